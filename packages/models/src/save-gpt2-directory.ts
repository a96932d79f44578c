import { fromTypedArray, writeSafetensors, type SafetensorsTensor } from '@nnd/core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gpt2HuggingFaceConfig, gpt2ToHuggingFace } from './architectures/gpt2.js';
import type { FloatTensor } from './host-tensors.js';
import type { TransformerConfig } from './transformer-config.js';

/**
 * Writes a GPT-2 model in the Hugging Face layout (`config.json`,
 * `model.safetensors` in float32, plus any extra JSON files such as
 * tokenizer.json), so `transformers`' from_pretrained and fromPretrained
 * here both load it.
 */
export async function saveGpt2Directory(directory: string, config: TransformerConfig, parameters: ReadonlyMap<string, FloatTensor>, extraFiles: Readonly<Record<string, unknown>> = {}): Promise<void> {
  await mkdir(directory, { recursive: true });
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, tensor] of gpt2ToHuggingFace(parameters, config)) tensors.set(name, fromTypedArray('F32', tensor.shape, tensor.data));
  await writeSafetensors(join(directory, 'model.safetensors'), tensors, { format: 'pt' });
  await writeFile(join(directory, 'config.json'), `${JSON.stringify(gpt2HuggingFaceConfig(config), null, 2)}\n`);
  for (const [name, content] of Object.entries(extraFiles)) await writeFile(join(directory, name), `${JSON.stringify(content, null, 2)}\n`);
}
