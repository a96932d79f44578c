import { ConfigError } from '@nnd/core';
import type { TranscoderArchitecture, TranscoderConfig } from './transcoder-config.js';
import { createTranscoder } from './transcoder-registry.js';

/** Key under cfg.json's `metadata` where our full config lives (as @nnd/sae's files). */
export const NND_METADATA_KEY = 'nnd';

/** The SAELens release whose transcoder layout these files follow. */
const SAELENS_LAYOUT_VERSION = '6.18.0';

/**
 * SAELens's architecture names, without and with the skip connection.
 * SAELens 6.18 has ReLU ('transcoder') and JumpReLU transcoders only; TopK and
 * BatchTopK ones are written under names SAELens does not know, so that it
 * refuses them instead of running them as ReLU transcoders.
 */
const SAELENS_NAMES: Readonly<Record<TranscoderArchitecture, readonly [string, string]>> = {
  vanilla_transcoder: ['transcoder', 'skip_transcoder'],
  topk_transcoder: ['topk_transcoder', 'topk_skip_transcoder'],
  batchtopk_transcoder: ['batchtopk_transcoder', 'batchtopk_skip_transcoder'],
  jumprelu_transcoder: ['jumprelu_transcoder', 'jumprelu_skip_transcoder'],
};

function saeLensArchitecture(config: TranscoderConfig): string {
  return SAELENS_NAMES[config.architecture][config.skip ? 1 : 0];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** cfg.json for a config in SAELens 6's transcoder layout, with our config under metadata.nnd. */
export function toSaeLensTranscoderConfig(config: TranscoderConfig, extraMetadata: Record<string, unknown> = {}): Record<string, unknown> {
  const topK = config.architecture === 'topk_transcoder' || config.architecture === 'batchtopk_transcoder' ? { k: config.top_k } : {};
  const hooks: Record<string, string> = {};
  if (config.hook_point !== undefined) hooks.hook_name = config.hook_point;
  if (config.hook_point_out !== undefined) hooks.hook_name_out = config.hook_point_out;
  return {
    architecture: saeLensArchitecture(config),
    d_in: config.input_size,
    d_sae: config.dict_size,
    d_out: config.output_size,
    dtype: 'float32',
    device: 'cpu',
    apply_b_dec_to_input: config.pre_enc_bias && config.input_size === config.output_size,
    // 'layer_norm' is SAELens's name for the per-sample standardisation; SAELens maps
    // a transcoder's output back with nothing, the reference with the target's statistics.
    normalize_activations: config.input_unit_norm ? 'layer_norm' : 'none',
    reshape_activations: 'none',
    ...topK,
    metadata: { sae_lens_version: SAELENS_LAYOUT_VERSION, ...hooks, ...extraMetadata, [NND_METADATA_KEY]: config },
  };
}

function integerField(cfg: Record<string, unknown>, key: string, where: string): number {
  const value = cfg[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${where}: ${key} = ${JSON.stringify(value)} is invalid; allowed: an integer >= 1.`);
  }
  return value;
}

/**
 * Our config from a cfg.json: the full config under `metadata.nnd` when we
 * wrote the file, otherwise mapped from SAELens's fields (architecture, d_in,
 * d_sae, d_out, k, apply_b_dec_to_input, hook_name and hook_name_out), with
 * our defaults for the rest.
 */
export function fromSaeLensTranscoderConfig(cfg: unknown, where: string): TranscoderConfig {
  if (!isRecord(cfg)) throw new ConfigError(`${where}: cfg.json must hold a JSON object.`);
  const metadata = isRecord(cfg.metadata) ? cfg.metadata : {};
  const ours = metadata[NND_METADATA_KEY];
  if (ours !== undefined) {
    const { config } = createTranscoder(ours);
    if (cfg.architecture !== undefined && cfg.architecture !== saeLensArchitecture(config)) {
      throw new ConfigError(`${where}: architecture = ${JSON.stringify(cfg.architecture)} disagrees with metadata.nnd (expected '${saeLensArchitecture(config)}').`);
    }
    return config;
  }
  const named = cfg.architecture;
  const entry = Object.entries(SAELENS_NAMES).find(([, names]) => names.includes(named as string));
  if (entry === undefined) {
    const allowed = Object.values(SAELENS_NAMES)
      .flat()
      .map((name) => `'${name}'`)
      .join(', ');
    throw new ConfigError(`${where}: architecture = ${JSON.stringify(named)} is not a transcoder; allowed: ${allowed} (SAEs load with loadSae from @nnd/sae).`);
  }
  const architecture = entry[0] as TranscoderArchitecture;
  const inputSize = integerField(cfg, 'd_in', where);
  const outputSize = integerField(cfg, 'd_out', where);
  if ((cfg.normalize_activations ?? 'none') !== 'none') {
    throw new ConfigError(
      `${where}: normalize_activations = ${JSON.stringify(cfg.normalize_activations)} is not supported for a transcoder written by another tool; allowed: 'none' (nnd's input_unit_norm maps the output back with the target's statistics, which SAELens does not).`,
    );
  }
  const preEncoderBias = cfg.apply_b_dec_to_input === true;
  if (preEncoderBias && inputSize !== outputSize) {
    throw new ConfigError(`${where}: apply_b_dec_to_input = true needs d_in == d_out (b_dec has the output's width), but d_in = ${inputSize} and d_out = ${outputSize}; set it to false.`);
  }
  if (cfg.rescale_acts_by_decoder_norm === true) {
    throw new ConfigError(`${where}: rescale_acts_by_decoder_norm = true is not supported; allowed: false (fold the decoder norms into W_enc and W_dec first).`);
  }
  const raw: Record<string, unknown> = {
    architecture,
    input_size: inputSize,
    output_size: outputSize,
    dict_size: integerField(cfg, 'd_sae', where),
    pre_enc_bias: preEncoderBias,
    skip: named === entry[1][1],
  };
  const hookName = metadata.hook_name ?? cfg.hook_name;
  const hookNameOut = metadata.hook_name_out ?? cfg.hook_name_out;
  if (typeof hookName === 'string' && hookName !== '') raw.hook_point = hookName;
  if (typeof hookNameOut === 'string' && hookNameOut !== '') raw.hook_point_out = hookNameOut;
  if (architecture === 'topk_transcoder' || architecture === 'batchtopk_transcoder') raw.top_k = integerField(cfg, 'k', where);
  return createTranscoder(raw).config;
}
