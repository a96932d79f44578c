/**
 * Every metric the results report shows, with the label and the one-paragraph
 * explanation the report prints. Names are the reference's (and what
 * `@nnd/logging` writes), so they match W&B dashboards of reference runs.
 */
export interface MetricDefinition {
  /** The key in metrics.jsonl / summary.json / W&B. */
  name: string;
  /** How tables and axes label it. */
  label: string;
  /** Logged every step during training, or written once by evaluation. */
  phase: 'training' | 'evaluation';
  explanation: string;
}

/** The summary key of the feature-density histogram: see `feature-density.ts` for its definition. */
export const FEATURE_DENSITY_KEY = 'feature_density_log10';

/**
 * Features firing on more than this fraction of evaluated tokens count as
 * dense (`dense_fraction`); with log10 densities, the cut is at -1.
 */
export const DENSE_DENSITY_THRESHOLD = 0.1;

export const METRIC_DEFINITIONS = [
  {
    name: 'loss',
    label: 'Loss',
    phase: 'training',
    explanation: 'The training objective of the batch: reconstruction loss plus the sparsity penalty (l1_loss) and the auxiliary loss (aux_loss) where the SAE type has them.',
  },
  {
    name: 'l2_loss',
    label: 'L2 loss',
    phase: 'training',
    explanation:
      'Mean squared error between the activations and their reconstruction on the training batch. The reference tabulates its final value as the normalised MSE (its inputs are normalised), so this report falls back to it when evaluation wrote no normalized_mse.',
  },
  {
    name: 'l1_loss',
    label: 'L1 loss',
    phase: 'training',
    explanation: 'The sparsity penalty: l1_coeff times the L1 norm of the feature activations. Zero for SAE types that enforce sparsity by TopK.',
  },
  {
    name: 'l0_norm',
    label: 'L0',
    phase: 'training',
    explanation: 'Average number of features active (non-zero) per token. Lower is sparser; TopK SAEs hold it at k, BatchTopK at k on average over the batch.',
  },
  {
    name: 'l1_norm',
    label: 'L1 norm',
    phase: 'training',
    explanation: 'Average L1 norm of the feature activations per token.',
  },
  {
    name: 'aux_loss',
    label: 'Aux loss',
    phase: 'training',
    explanation: 'Auxiliary loss that makes dead features reconstruct the residual error (TopK-style SAEs), so that they can come back to life.',
  },
  {
    name: 'num_dead_features',
    label: 'Dead features',
    phase: 'training',
    explanation: 'Features that have not fired for n_batches_to_dead consecutive batches.',
  },
  {
    name: 'n_dead_in_batch',
    label: 'Dead in batch',
    phase: 'training',
    explanation: 'Features that did not fire on any token of the current batch.',
  },
  {
    name: 'performance/ce_degradation',
    label: 'CE degradation',
    phase: 'training',
    explanation:
      "The model's original cross-entropy loss minus its loss with the SAE reconstruction spliced in at the hook point, with the reference's sign: negative when splicing hurts, as it almost always does. Closer to zero is better.",
  },
  {
    name: 'performance/recovery_from_zero',
    label: 'Recovery from zero',
    phase: 'training',
    explanation: 'How much of the loss gap between zero-ablating the hook point and the original model the reconstruction recovers: (spliced − zero-ablated) / (original − zero-ablated).',
  },
  {
    name: 'performance/recovery_from_mean',
    label: 'Recovery from mean',
    phase: 'training',
    explanation: 'As recovery from zero, with mean-ablation (every position replaced by the batch mean) as the baseline.',
  },
  {
    name: 'explained_variance',
    label: 'Explained variance',
    phase: 'evaluation',
    explanation: "Fraction of the activations' variance that the reconstruction explains, 1 − Σ‖x − x̂‖² / Σ‖x − mean(x)‖², over the evaluation tokens. 1 is perfect.",
  },
  {
    name: 'normalized_mse',
    label: 'Normalised MSE',
    phase: 'evaluation',
    explanation: 'Reconstruction error relative to the size of the input, Σ‖x − x̂‖² / Σ‖x‖², over the evaluation tokens. 0 is perfect; 1 is no better than reconstructing zero.',
  },
  {
    name: 'dead_fraction',
    label: 'Dead fraction',
    phase: 'evaluation',
    explanation: 'Fraction of the dictionary that never fired on the evaluation tokens.',
  },
  {
    name: 'dense_fraction',
    label: 'Dense fraction',
    phase: 'evaluation',
    explanation: `Fraction of the dictionary that fires on more than ${DENSE_DENSITY_THRESHOLD * 100}% of the evaluation tokens (log10 feature density above −1); dense features tend to be uninterpretable.`,
  },
  {
    name: FEATURE_DENSITY_KEY,
    label: 'Feature density (log10)',
    phase: 'evaluation',
    explanation:
      'For each feature, log10 of the fraction of evaluation tokens on which it fired (activation > 0); the histogram shows how the dictionary spreads between rare and frequent features. Features that never fired have no logarithm and are counted apart.',
  },
] as const satisfies readonly MetricDefinition[];

export type ResultMetricName = (typeof METRIC_DEFINITIONS)[number]['name'];

const DEFINITIONS_BY_NAME = new Map<string, MetricDefinition>(METRIC_DEFINITIONS.map((definition) => [definition.name, definition]));

/** The definition of a known metric, or undefined for a name this package does not describe (a suffixed group metric, a custom one). */
export function metricDefinition(name: string): MetricDefinition | undefined {
  return DEFINITIONS_BY_NAME.get(name);
}

/** The label of a metric for axes and legends; unknown names label themselves. */
export function metricLabel(name: string): string {
  return DEFINITIONS_BY_NAME.get(name)?.label ?? name;
}
