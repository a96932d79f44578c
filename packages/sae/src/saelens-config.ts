import { ConfigError } from '@nnd/core';
import type { SaeArchitecture, SaeConfig } from './sae-config.js';
import { createSae } from './sae-registry.js';

/**
 * The SAELens inference architecture each of ours is saved as. SAELens calls
 * the L1 SAE 'standard', and has no inference BatchTopK: it saves BatchTopK
 * SAEs as JumpReLU with the running threshold for every feature
 * (`BatchTopKTrainingSAE.process_state_dict_for_saving_inference`), and so do we.
 */
const SAELENS_ARCHITECTURES: Readonly<Record<SaeArchitecture, string>> = {
  vanilla: 'standard',
  topk: 'topk',
  batchtopk: 'jumprelu',
  jumprelu: 'jumprelu',
};

/** The SAELens architectures we read, and what each becomes. 'batchtopk' is SAELens's training checkpoint (`save_model`). */
const FROM_SAELENS: Readonly<Record<string, SaeArchitecture>> = {
  standard: 'vanilla',
  topk: 'topk',
  batchtopk: 'batchtopk',
  jumprelu: 'jumprelu',
};

/** Key under cfg.json's `metadata` where our full config lives. */
const NND_METADATA_KEY = 'nnd';

/**
 * The SAELens release whose file layout we write. SAELens reads a cfg.json
 * without `metadata.sae_lens_version` (or with one below 6.0) as a pre-6.0
 * file and keeps only top-level model and hook fields, so without it
 * `hook_name` would be lost and `HookedSAETransformer.add_sae` would attach nothing.
 */
const SAELENS_VERSION = '6.18.0';

/**
 * SAELens 6's metadata fields (`SAEMetadata`, and `LLM_METADATA_KEYS` in
 * its loaders), null where unknown: what SAELens's runner records about the
 * model, hook and data an SAE was trained on.
 */
const SAELENS_METADATA: Readonly<Record<string, unknown>> = {
  sae_lens_version: SAELENS_VERSION,
  // Not trained by SAELens.
  sae_lens_training_version: null,
  model_name: null,
  model_class_name: null,
  hook_name: null,
  hook_head_index: null,
  model_from_pretrained_kwargs: null,
  prepend_bos: null,
  exclude_special_tokens: null,
  context_size: null,
  seqpos_slice: null,
  dataset_path: null,
  neuronpedia_id: null,
};

/** Pre-6.0 SAELens kept these at the top level, some under older names. */
const PRE_6_METADATA_NAMES: Readonly<Record<string, string>> = {
  hook_point: 'hook_name',
  hook_point_head_index: 'hook_head_index',
  ...Object.fromEntries(Object.keys(SAELENS_METADATA).map((key) => [key, key])),
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether our architecture subtracts b_dec from the input before the encoder (SAELens's apply_b_dec_to_input). */
export function appliesBDecToInput(architecture: SaeArchitecture): boolean {
  return architecture !== 'jumprelu';
}

/** cfg.json for a config, in SAELens 6's layout (model/hook details go in `metadata`). */
export function toSaeLensConfig(config: SaeConfig, extraMetadata: Record<string, unknown> = {}): Record<string, unknown> {
  // Our TopK has unit-norm decoder rows by construction, so there is nothing to rescale.
  const topK = config.architecture === 'topk' ? { k: config.top_k, rescale_acts_by_decoder_norm: false } : {};
  return {
    architecture: SAELENS_ARCHITECTURES[config.architecture],
    d_in: config.act_size,
    d_sae: config.dict_size,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: appliesBDecToInput(config.architecture),
    // SAELens's 'layer_norm' is exactly the reference's input_unit_norm: per-sample
    // mean and Bessel-corrected std (+ 1e-5 on the std), output mapped back.
    normalize_activations: config.input_unit_norm ? 'layer_norm' : 'none',
    reshape_activations: 'none',
    ...topK,
    // The SAE's own hook is SAELens's hook_name, which HookedSAETransformer.add_sae needs to attach it.
    metadata: { ...SAELENS_METADATA, ...(config.hook_point === undefined ? {} : { hook_name: config.hook_point }), ...extraMetadata, [NND_METADATA_KEY]: config },
  };
}

/**
 * cfg.json's metadata, without our config. SAELens before 6.0 kept model
 * and hook fields at the top level (`hook_point` for `hook_name`); they are
 * gathered here under their 6.x names, as SAELens's own loader does.
 */
export function saeLensMetadata(cfg: unknown): Record<string, unknown> {
  if (!isRecord(cfg)) return {};
  const metadata: Record<string, unknown> = isRecord(cfg.metadata) ? { ...cfg.metadata } : {};
  delete metadata[NND_METADATA_KEY];
  if (!isRecord(cfg.metadata)) {
    for (const [key, name] of Object.entries(PRE_6_METADATA_NAMES)) {
      if (cfg[key] !== undefined && metadata[name] === undefined) metadata[name] = cfg[key];
    }
  }
  return metadata;
}

/**
 * How weights written by SAELens become ours, so that our forward pass
 * computes what SAELens computes:
 * - `applyBDecToInput`: the file's choice. Where ours differs, b_enc absorbs
 *   it: (x - b_dec) W_enc + b_enc = x W_enc + (b_enc - b_dec W_enc).
 * - `rescaleByDecoderNorm`: SAELens TopK's `rescale_acts_by_decoder_norm`
 *   (pre-activations times ||W_dec[f]||, acts divided by it before decoding);
 *   folding the norms into W_enc, b_enc and W_dec gives the same outputs.
 */
export interface SaeLensConversion {
  readonly applyBDecToInput: boolean;
  readonly rescaleByDecoderNorm: boolean;
}

/**
 * What a cfg.json says: our full config when we wrote it (`metadata.nnd`),
 * or, for a file SAELens wrote, our raw config mapped from SAELens's fields
 * (d_in, d_sae, architecture, k, normalize_activations; our defaults for the
 * rest) and the conversion its weights need.
 */
export type SaeLensConfigReading = { readonly kind: 'nnd'; readonly config: SaeConfig } | { readonly kind: 'saelens'; readonly raw: Record<string, unknown>; readonly conversion: SaeLensConversion };

function architectureFromSaeLens(cfg: Record<string, unknown>, where: string): SaeArchitecture {
  const named = cfg.architecture ?? 'standard';
  const activation = cfg.activation_fn_str ?? cfg.activation_fn;
  // SAELens before 6 wrote TopK SAEs as 'standard' with activation_fn_str 'topk'.
  if (named === 'standard' && activation === 'topk') return 'topk';
  if (named === 'standard' && activation !== undefined && activation !== 'relu') {
    throw new ConfigError(`${where}: activation_fn_str = ${JSON.stringify(activation)} is not supported for architecture 'standard'; allowed: 'relu' or 'topk'.`);
  }
  const match = typeof named === 'string' ? FROM_SAELENS[named] : undefined;
  if (match === undefined) {
    const allowed = Object.keys(FROM_SAELENS)
      .map((name) => `'${name}'`)
      .join(', ');
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

function booleanField(cfg: Record<string, unknown>, key: string, fallback: boolean, where: string): boolean {
  const value = cfg[key] ?? fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`${where}: ${key} = ${JSON.stringify(value)} is invalid; allowed: true or false.`);
  return value;
}

export function readSaeLensConfig(cfg: unknown, where: string): SaeLensConfigReading {
  if (!isRecord(cfg)) throw new ConfigError(`${where}: cfg.json must hold a JSON object.`);
  const metadata = isRecord(cfg.metadata) ? cfg.metadata : {};
  const ours = metadata[NND_METADATA_KEY];
  if (ours !== undefined) {
    const config = createSae(ours).config;
    const named = cfg.architecture;
    // Before BatchTopK was saved as SAELens's 'jumprelu', we wrote 'batchtopk'.
    const accepted = config.architecture === 'batchtopk' ? ['jumprelu', 'batchtopk'] : [SAELENS_ARCHITECTURES[config.architecture]];
    if (named !== undefined && !accepted.includes(named as string)) {
      throw new ConfigError(
        `${where}: architecture = ${JSON.stringify(named)} disagrees with metadata.nnd.architecture = '${config.architecture}' (expected '${SAELENS_ARCHITECTURES[config.architecture]}').`,
      );
    }
    return { kind: 'nnd', config };
  }
  const architecture = architectureFromSaeLens(cfg, where);
  const normalization = cfg.normalize_activations ?? 'none';
  if (normalization !== 'none' && normalization !== 'layer_norm') {
    throw new ConfigError(`${where}: normalize_activations = ${JSON.stringify(normalization)} is not supported; allowed: 'none' or 'layer_norm' (our input_unit_norm).`);
  }
  const raw: Record<string, unknown> = {
    architecture,
    act_size: integerField(cfg, 'd_in', where),
    dict_size: integerField(cfg, 'd_sae', where),
    input_unit_norm: normalization === 'layer_norm',
  };
  const topK = architecture === 'topk' || architecture === 'batchtopk';
  if (topK) {
    const kwargs = isRecord(cfg.activation_fn_kwargs) ? cfg.activation_fn_kwargs : {};
    raw.top_k = integerField({ k: cfg.k ?? kwargs.k }, 'k', where);
  }
  return {
    kind: 'saelens',
    raw,
    conversion: {
      // SAELens's default, also for files from before 6.0.
      applyBDecToInput: booleanField(cfg, 'apply_b_dec_to_input', true, where),
      // Only SAELens's TopK (and BatchTopK, which extends it) rescale.
      rescaleByDecoderNorm: topK && booleanField(cfg, 'rescale_acts_by_decoder_norm', false, where),
    },
  };
}
