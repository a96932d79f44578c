import type { FloatTensor } from '../host-tensors.js';
import type { HuggingFaceConfig } from '../hugging-face-config.js';
import type { TransformerConfig } from '../transformer-config.js';
import type { WeightReader } from '../weight-files.js';

/**
 * One Hugging Face architecture: how its config.json maps to a
 * TransformerConfig, and how its checkpoint's tensors map to the standard
 * parameter names of parameterShapes.
 */
export interface Architecture {
  /** The `model_type` in config.json. */
  readonly modelType: string;
  config(source: HuggingFaceConfig): TransformerConfig;
  convert(weights: WeightReader, config: TransformerConfig): Promise<Map<string, FloatTensor>>;
}
