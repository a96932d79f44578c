import * as fs from 'node:fs';
import * as path from 'node:path';

/** One synthetic run: the config fields the results read, and whether it finished and was evaluated. */
export interface SyntheticRun {
  method: 'topk' | 'batchtopk' | 'jumprelu' | 'vanilla';
  dictionarySize: number;
  k: number;
  /** Logged rows (every 50 steps). Default 40. */
  rows?: number;
  /** Write summary.json (a finished run). Default true. */
  finished?: boolean;
  /** Put evaluation metrics and the feature-density array in the summary. Default true. */
  evaluated?: boolean;
  /** Distinguishes runs that share the other fields (the `lr` of the name). Default 3e-4. */
  lr?: number;
}

/** Seeded, so every test run writes the same files. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The reference's name, `{model_name}_{hook_point}_{dict_size}_{sae_type}_{top_k}_{lr}`. */
export function syntheticRunName(run: SyntheticRun): string {
  return `gpt2-small_blocks.8.hook_resid_pre_${run.dictionarySize}_${run.method}_${run.k}_${String(run.lr ?? 3e-4)}`;
}

/**
 * Writes `runsDirectory/<name>/` in @nnd/logging's layout: config.json,
 * metrics.jsonl, checkpoints/step_<N>/, and summary.json for a finished run.
 * Metrics behave like a real sweep: error falls with dictionary size and k,
 * BatchTopK beats TopK a little, loss decays from a high start.
 */
export function writeSyntheticRun(runsDirectory: string, run: SyntheticRun): string {
  const name = syntheticRunName(run);
  const directory = path.join(runsDirectory, name);
  fs.mkdirSync(path.join(directory, 'checkpoints'), { recursive: true });
  const random = randomSource(run.dictionarySize * 131 + run.k * 7 + run.method.length * 1009 + Math.round((run.lr ?? 3e-4) * 1e6));
  const config = {
    sae_type: run.method,
    dict_size: run.dictionarySize,
    top_k: run.k,
    l1_coeff: run.method === 'jumprelu' ? 0.0005 * (64 / run.k) : 0,
    lr: run.lr ?? 3e-4,
    model_name: 'gpt2-small',
    hook_point: 'blocks.8.hook_resid_pre',
    site: 'resid_pre',
    layer: 8,
    act_size: 768,
    batch_size: 4096,
    num_tokens: 1e8,
    name,
  };
  fs.writeFileSync(path.join(directory, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const typeFactor = { topk: 1, batchtopk: 0.93, jumprelu: 0.97, vanilla: 1.25 }[run.method];
  const finalMse = typeFactor * 0.16 * (4096 / run.dictionarySize) ** 0.18 * (32 / run.k) ** 0.45;
  const finalL0 = run.method === 'jumprelu' ? run.k * (0.8 + 0.4 * random()) : run.k * (run.method === 'batchtopk' ? 1 : 1);
  const finalCe = -(0.55 * finalMse + 0.01 * random());
  const rows = run.rows ?? 40;
  const lines: string[] = [];
  let last: Record<string, number> = {};
  for (let index = 0; index < rows; index += 1) {
    const step = index * 50;
    const progress = index / Math.max(1, rows - 1);
    const decay = Math.exp(-6 * progress);
    const l2Loss = finalMse * (1 + 30 * decay) * (1 + 0.03 * (random() - 0.5));
    const metrics: Record<string, number> = {
      loss: l2Loss + (run.method === 'jumprelu' || run.method === 'vanilla' ? 0.02 * (1 + decay) : 0) + 0.01 * decay,
      l2_loss: l2Loss,
      l1_loss: run.method === 'jumprelu' || run.method === 'vanilla' ? 0.02 * (1 + decay) : 0,
      l0_norm: run.method === 'topk' ? run.k : finalL0 * (1 + 2 * decay),
      l1_norm: finalL0 * 0.6,
      aux_loss: run.method === 'jumprelu' ? 0 : 0.05 * decay + 0.002 * random(),
      num_dead_features: Math.round(run.dictionarySize * 0.2 * decay + run.dictionarySize * 0.01),
      n_dead_in_batch: Math.round(run.dictionarySize * 0.3 * decay + run.dictionarySize * 0.05),
    };
    if (index % 5 === 0 || index === rows - 1) {
      metrics['performance/ce_degradation'] = finalCe * (1 + 8 * decay);
      metrics['performance/recovery_from_zero'] = 1 - 0.05 * (1 + 8 * decay);
      metrics['performance/recovery_from_mean'] = 1 - 0.08 * (1 + 8 * decay);
    }
    lines.push(JSON.stringify({ step, time: 1_700_000_000 + index * 3.5, ...metrics }));
    last = { ...last, ...metrics };
    if (index > 0 && index % 20 === 0) fs.mkdirSync(path.join(directory, 'checkpoints', `step_${step}`), { recursive: true });
  }
  fs.writeFileSync(path.join(directory, 'metrics.jsonl'), `${lines.join('\n')}\n`);

  if (run.finished ?? true) {
    const summary: Record<string, unknown> = { ...last };
    if (run.evaluated ?? true) {
      const deadFraction = 0.01 + 0.04 * random();
      const density = Array.from({ length: run.dictionarySize }, () => {
        if (random() < deadFraction) return null;
        // A Box–Muller normal around 10^-3, the usual bulk of an SAE's features.
        const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        return Math.min(0, -3 + Math.log10(run.k / 32) + 0.75 * normal);
      });
      Object.assign(summary, {
        normalized_mse: finalMse,
        explained_variance: 1 - finalMse * 1.1,
        feature_density_log10: density,
      });
    }
    fs.writeFileSync(path.join(directory, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
  return directory;
}

/** A small sweep: TopK and BatchTopK over dictionary sizes at k = 32 and over k at 8192, JumpReLU over sparsity at 8192. */
export const SYNTHETIC_SWEEP: readonly SyntheticRun[] = [
  ...(['topk', 'batchtopk'] as const).flatMap((method) => [
    ...[2048, 4096, 8192].map((dictionarySize) => ({ method, dictionarySize, k: 32 })),
    ...[16, 64].map((k) => ({ method, dictionarySize: 8192, k })),
  ]),
  ...[16, 32, 64].map((k) => ({ method: 'jumprelu' as const, dictionarySize: 8192, k })),
];

/** Writes `SYNTHETIC_SWEEP` (or `runs`) under `runsDirectory`; returns the run directories. */
export function writeSyntheticSweep(runsDirectory: string, runs: readonly SyntheticRun[] = SYNTHETIC_SWEEP): string[] {
  return runs.map((run) => writeSyntheticRun(runsDirectory, run));
}
