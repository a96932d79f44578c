import { ConfigError } from '@nnd/core';
import { SAE_ARCHITECTURES, type SaeArchitecture, type SaeConfig } from './sae-config.js';
import { createSae } from './sae-registry.js';

/** SAELens's architecture names; it calls the L1 SAE 'standard'. */
export const SAELENS_ARCHITECTURES: Readonly<Record<SaeArchitecture, string>> = {
  vanilla: 'standard',
  topk: 'topk',
  batchtopk: 'batchtopk',
  jumprelu: 'jumprelu',
};

/** Key under cfg.json's `metadata` where our full config lives. */
export const NND_METADATA_KEY = 'nnd';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** cfg.json for a config, in SAELens 6's layout (model/hook details go in `metadata`). */
export function toSaeLensConfig(config: SaeConfig, extraMetadata: Record<string, unknown> = {}): Record<string, unknown> {
  const topK = config.architecture === 'topk' || config.architecture === 'batchtopk'
    ? { k: config.top_k, rescale_acts_by_decoder_norm: false }
    : {};
  return {
    architecture: SAELENS_ARCHITECTURES[config.architecture],
    d_in: config.act_size,
    d_sae: config.dict_size,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: config.architecture !== 'jumprelu',
    // SAELens's 'layer_norm' is exactly the reference's input_unit_norm: per-sample
    // mean and Bessel-corrected std (+ 1e-5 on the std), output mapped back.
    normalize_activations: config.input_unit_norm ? 'layer_norm' : 'none',
    reshape_activations: 'none',
    ...topK,
    metadata: { ...extraMetadata, [NND_METADATA_KEY]: config },
  };
}

function architectureFromSaeLens(cfg: Record<string, unknown>, where: string): SaeArchitecture {
  const named = cfg.architecture ?? 'standard';
  const activation = cfg.activation_fn_str ?? cfg.activation_fn;
  // SAELens before 6 wrote TopK SAEs as 'standard' with activation_fn_str 'topk'.
  if (named === 'standard' && activation === 'topk') return 'topk';
  if (named === 'standard' && activation !== undefined && activation !== 'relu') {
    throw new ConfigError(`${where}: activation_fn_str = ${JSON.stringify(activation)} is not supported for architecture 'standard'; allowed: 'relu' or 'topk'.`);
  }
  const match = SAE_ARCHITECTURES.find((architecture) => SAELENS_ARCHITECTURES[architecture] === named);
  if (match === undefined) {
    const allowed = SAE_ARCHITECTURES.map((architecture) => `'${SAELENS_ARCHITECTURES[architecture]}'`).join(', ');
    throw new ConfigError(`${where}: architecture = ${JSON.stringify(named)} is not supported; allowed: ${allowed}.`);
  }
  return match;
}

function integerField(cfg: Record<string, unknown>, key: string, where: string): number {
  const value = cfg[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${where}: ${key} = ${JSON.stringify(value)} is invalid; allowed: an integer >= 1.`);
  }
  return value;
}

function checkSaeLensOptions(cfg: Record<string, unknown>, architecture: SaeArchitecture, where: string): boolean {
  const normalization = cfg.normalize_activations ?? 'none';
  if (normalization !== 'none' && normalization !== 'layer_norm') {
    throw new ConfigError(`${where}: normalize_activations = ${JSON.stringify(normalization)} is not supported; allowed: 'none' or 'layer_norm' (our input_unit_norm).`);
  }
  // Our encoders fix this choice per architecture, as the reference does; an
  // absent key is taken to mean ours.
  const expected = architecture !== 'jumprelu';
  if (cfg.apply_b_dec_to_input !== undefined && cfg.apply_b_dec_to_input !== expected) {
    throw new ConfigError(`${where}: apply_b_dec_to_input = ${JSON.stringify(cfg.apply_b_dec_to_input)} is not supported for '${cfg.architecture}'; allowed: ${expected} (${architecture} ${expected ? 'subtracts' : 'does not subtract'} b_dec before the encoder).`);
  }
  if (cfg.rescale_acts_by_decoder_norm === true) {
    throw new ConfigError(`${where}: rescale_acts_by_decoder_norm = true is not supported; allowed: false (fold the decoder norms into W_enc and W_dec first).`);
  }
  return normalization === 'layer_norm';
}

/**
 * Our config from a cfg.json: the full config under `metadata.nnd` when we
 * wrote the file, otherwise mapped from SAELens's fields (d_in, d_sae,
 * architecture, k, normalize_activations), with our defaults for the rest.
 */
export function fromSaeLensConfig(cfg: unknown, where: string): SaeConfig {
  if (!isRecord(cfg)) throw new ConfigError(`${where}: cfg.json must hold a JSON object.`);
  const metadata = isRecord(cfg.metadata) ? cfg.metadata : {};
  const ours = metadata[NND_METADATA_KEY];
  if (ours !== undefined) {
    const config = createSae(ours).config;
    const named = cfg.architecture;
    if (named !== undefined && named !== SAELENS_ARCHITECTURES[config.architecture]) {
      throw new ConfigError(`${where}: architecture = ${JSON.stringify(named)} disagrees with metadata.nnd.architecture = '${config.architecture}' (expected '${SAELENS_ARCHITECTURES[config.architecture]}').`);
    }
    return config;
  }
  const architecture = architectureFromSaeLens(cfg, where);
  const inputUnitNorm = checkSaeLensOptions(cfg, architecture, where);
  const raw: Record<string, unknown> = {
    architecture,
    act_size: integerField(cfg, 'd_in', where),
    dict_size: integerField(cfg, 'd_sae', where),
    input_unit_norm: inputUnitNorm,
  };
  if (architecture === 'topk' || architecture === 'batchtopk') {
    const kwargs = isRecord(cfg.activation_fn_kwargs) ? cfg.activation_fn_kwargs : {};
    raw.top_k = integerField({ k: cfg.k ?? kwargs.k }, 'k', where);
  }
  return createSae(raw).config;
}
