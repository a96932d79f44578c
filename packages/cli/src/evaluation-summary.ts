import type { DecompositionEvaluation } from '@nnd/train';

const percent = (fraction: number) => `${(100 * fraction).toFixed(1)}%`;
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

/**
 * The lines a finished run prints: sparsity, reconstruction, the
 * model's loss with the decomposition spliced in, how much of the ablation gap that
 * recovers, how far the next-token distributions move (KL), how often the top prediction stays the same, and the features
 * that never fired.
 */
export function evaluationSummaryLines(evaluation: DecompositionEvaluation): string[] {
  // A family's own evaluation (SPD's KL and CE per mask kind) is printed as it named its metrics.
  if (!Array.isArray((evaluation as Partial<DecompositionEvaluation>).feature_density_log10)) return familyEvaluationLines(evaluation as unknown as Record<string, number>);
  const original = evaluation['performance/original_loss'];
  const reconstructed = evaluation['performance/reconstructed_loss'];
  const dictionarySize = evaluation.feature_density_log10.length;
  const dead = evaluation.feature_density_log10.filter((density) => density === null).length;
  return [
    `L0:                 ${fixed(evaluation.l0_norm, 2)} active features per token`,
    `Explained variance: ${fixed(evaluation.explained_variance, 4)}`,
    // The reference's sign: original minus spliced, so a decomposition that costs loss gives a negative number.
    `CE degradation:     ${fixed(evaluation['performance/ce_degradation'], 4)} nats (model loss ${fixed(original, 4)}, with the decomposition spliced in ${fixed(reconstructed, 4)}; negative when splicing raises the loss, as in the reference)`,
    `Recovery:           ${percent(evaluation['performance/recovery_from_zero'])} of the loss from zero-ablation, ${percent(evaluation['performance/recovery_from_mean'])} from mean-ablation`,
    `KL divergence:      ${fixed(evaluation['performance/reconstructed_kl_div'], 4)} nats per token spliced in, ${fixed(evaluation['performance/zero_ablation_kl_div'], 4)} zero-ablated: score ${percent(evaluation['performance/kl_div_score'])} (SAELens's kl_div_score)`,
    `Top-1 agreement:    ${percent(evaluation.top1_agreement)} of next-token predictions unchanged`,
    `Dead features:      ${dead} of ${dictionarySize} (${percent(dictionarySize === 0 ? 0 : dead / dictionarySize)}) never fired on ${evaluation.evaluated_tokens} tokens`,
  ];
}

/** The mask-kind metrics of a family's own evaluation, one per line (`kl_ci`, `ce_unrecovered_ci`, ...). */
function familyEvaluationLines(evaluation: Readonly<Record<string, number>>): string[] {
  return Object.entries(evaluation)
    .filter(([name]) => /^(kl_|ce_unrecovered_|ce_target$)/.test(name))
    .map(([name, value]) => `${`${name}:`.padEnd(28)}${fixed(value, 4)}`);
}
