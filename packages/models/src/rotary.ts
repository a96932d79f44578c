import { add, concat, mul, neg, reshape, slice, type HostTensor, type Tensor } from '@nnd/core';
import type { TransformerConfig } from './transformer-config.js';

/** Graph-input names of the rotary tables, fed like weights. */
export const ROTARY_COS = 'rotary.cos';
export const ROTARY_SIN = 'rotary.sin';

/**
 * cos and sin of position * inverse frequency, [contextLength, rotaryDim],
 * each frequency repeated for both halves (Hugging Face's `cat(freqs, freqs)`).
 * Computed here rather than in the graph because the IR has no Sin/Cos; the
 * products are rounded to float32 as PyTorch computes them, so long positions
 * match Hugging Face to the last bit of the angle.
 */
export function rotaryTables(config: TransformerConfig): { cos: HostTensor<'float32'>; sin: HostTensor<'float32'> } {
  const { rotaryDim, rotaryBase, contextLength } = config;
  const half = rotaryDim / 2;
  const inverseFrequencies = Float32Array.from({ length: half }, (_, i) => 1 / rotaryBase ** ((2 * i) / rotaryDim));
  const cos = new Float32Array(contextLength * rotaryDim);
  const sin = new Float32Array(contextLength * rotaryDim);
  for (let position = 0; position < contextLength; position++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(position * inverseFrequencies[i]);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const row = position * rotaryDim;
      cos[row + i] = c;
      cos[row + half + i] = c;
      sin[row + i] = s;
      sin[row + half + i] = s;
    }
  }
  const shape = [contextLength, rotaryDim];
  return { cos: { dtype: 'float32', shape, data: cos }, sin: { dtype: 'float32', shape, data: sin } };
}

/**
 * Rotate-half rotary embedding (GPT-NeoX, Llama) of the first `rotaryDim`
 * dimensions of each head; the rest pass through (partial rotary).
 * x: [batch, seq, heads, d_head]; cos, sin: [seq, rotaryDim].
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor, rotaryDim: number): Tensor {
  const headSize = x.shape[3] as number;
  const half = rotaryDim / 2;
  const last = (from: number, to: number) => slice(x, { starts: [from], ends: [to], axes: [3] });
  const rotated = rotaryDim === headSize ? x : last(0, rotaryDim);
  const firstHalf = slice(rotated, { starts: [0], ends: [half], axes: [3] });
  const secondHalf = slice(rotated, { starts: [half], ends: [rotaryDim], axes: [3] });
  const rotatedHalf = concat([neg(secondHalf), firstHalf], 3);
  // [seq, rotaryDim] -> [seq, 1, rotaryDim] broadcasts over batch and heads.
  const perPosition = (table: Tensor) => reshape(table, [table.shape[0], 1, rotaryDim]);
  const embedded = add(mul(rotated, perPosition(cos)), mul(rotatedHalf, perPosition(sin)));
  return rotaryDim === headSize ? embedded : concat([embedded, last(rotaryDim, headSize)], 3);
}
