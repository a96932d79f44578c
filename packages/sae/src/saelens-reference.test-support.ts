/**
 * SAELens 6.18's inference forward pass, in float64 on plain arrays, written
 * from its source (not imported: the tests must not need Python):
 * - `saes/sae.py`: `process_sae_in` (normalise, then subtract b_dec times
 *   apply_b_dec_to_input), `run_time_activation_ln_in/out` for 'layer_norm'
 *   (mean, torch's Bessel-corrected std, x / (std + 1e-5); out * std + mean);
 * - `saes/standard_sae.py`: relu(pre);
 * - `saes/topk_sae.py` `TopKSAE`: pre * ||W_dec[f]|| when
 *   rescale_acts_by_decoder_norm, top k of pre per sample then relu; decode
 *   divides the acts by the norms again;
 * - `saes/jumprelu_sae.py` `JumpReLUSAE`: relu(pre) * (pre > threshold);
 * - `saes/batchtopk_sae.py` `BatchTopK`: relu, then the k * batch largest of
 *   the flattened batch (the training SAE's encode, on top of TopK's rescale).
 * A test helper, not exported from the package.
 */

export interface SaeLensTensor {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

export interface SaeLensOutput {
  readonly acts: number[][];
  readonly reconstruction: number[][];
}

/** The weight names SAELens's `load_state_dict` (strict) expects per architecture. */
const STATE_DICT_KEYS: Record<string, readonly string[]> = {
  standard: ['W_dec', 'W_enc', 'b_dec', 'b_enc'],
  topk: ['W_dec', 'W_enc', 'b_dec', 'b_enc'],
  jumprelu: ['W_dec', 'W_enc', 'b_dec', 'b_enc', 'threshold'],
  batchtopk: ['W_dec', 'W_enc', 'b_dec', 'b_enc', 'topk_threshold'],
};

function mean(row: readonly number[]): number {
  return row.reduce((sum, value) => sum + value, 0) / row.length;
}

export function saeLensForward(cfg: Record<string, unknown>, weights: Record<string, SaeLensTensor>, xs: readonly (readonly number[])[]): SaeLensOutput {
  const architecture = cfg.architecture as string;
  const expectedKeys = STATE_DICT_KEYS[architecture];
  if (expectedKeys === undefined) throw new Error(`SAELens has no inference class for architecture ${JSON.stringify(architecture)} (KeyError).`);
  const keys = Object.keys(weights).sort();
  if (keys.join() !== [...expectedKeys].sort().join()) throw new Error(`load_state_dict: expected ${expectedKeys.join(', ')}, got ${keys.join(', ')}.`);
  const [dIn, dSae] = [cfg.d_in as number, cfg.d_sae as number];
  const w = (name: string) => Array.from(weights[name].data, (value) => value);
  const [wEnc, wDec, bEnc, bDec] = [w('W_enc'), w('W_dec'), w('b_enc'), w('b_dec')];
  const applyBDec = (cfg.apply_b_dec_to_input ?? true) as boolean;
  const rescale = (architecture === 'topk' || architecture === 'batchtopk') && cfg.rescale_acts_by_decoder_norm === true;
  const norms = Array.from({ length: dSae }, (_, f) => Math.sqrt(wDec.slice(f * dIn, (f + 1) * dIn).reduce((sum, value) => sum + value * value, 0)));
  const layerNorm = cfg.normalize_activations === 'layer_norm';
  if (!layerNorm && (cfg.normalize_activations ?? 'none') !== 'none') throw new Error('normalisation not modelled here');

  const statistics = xs.map((row) => {
    const mu = mean(row);
    const std = Math.sqrt(row.reduce((sum, value) => sum + (value - mu) ** 2, 0) / (row.length - 1));
    return { mu, std };
  });
  const pres = xs.map((row, b) => {
    const input = layerNorm ? row.map((value) => (value - statistics[b].mu) / (statistics[b].std + 1e-5)) : [...row];
    const centered = input.map((value, i) => value - (applyBDec ? bDec[i] : 0));
    return Array.from({ length: dSae }, (_, f) => {
      let pre = bEnc[f];
      for (let i = 0; i < dIn; i++) pre += centered[i] * wEnc[i * dSae + f];
      return rescale ? pre * norms[f] : pre;
    });
  });

  let acts: number[][];
  if (architecture === 'standard') acts = pres.map((row) => row.map((value) => Math.max(0, value)));
  else if (architecture === 'jumprelu') {
    const threshold = w('threshold');
    acts = pres.map((row) => row.map((value, f) => (value > threshold[f] ? Math.max(0, value) : 0)));
  } else if (architecture === 'topk') {
    const k = cfg.k as number;
    acts = pres.map((row) => {
      const kept = new Set([...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, k));
      return row.map((value, f) => (kept.has(f) ? Math.max(0, value) : 0));
    });
  } else {
    const count = Math.floor((cfg.k as number) * xs.length);
    const flat = pres.flat().map((value) => Math.max(0, value));
    const kept = new Set([...flat.keys()].sort((a, b) => flat[b] - flat[a]).slice(0, count));
    acts = pres.map((row, b) => row.map((_, f) => (kept.has(b * dSae + f) ? flat[b * dSae + f] : 0)));
  }

  const reconstruction = acts.map((row, b) =>
    Array.from({ length: dIn }, (_, i) => {
      let out = bDec[i];
      for (let f = 0; f < dSae; f++) if (row[f] !== 0) out += (rescale ? row[f] / norms[f] : row[f]) * wDec[f * dIn + i];
      return layerNorm ? out * statistics[b].std + statistics[b].mu : out;
    }),
  );
  return { acts, reconstruction };
}
