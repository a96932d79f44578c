import { readFile } from 'node:fs/promises';
import { hostTensor, readSafetensors, toTypedArray, type HostTensor } from '@nnd/core';
import { TranscoderFileError } from './transcoder-file-error.js';

/** A file's bytes, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TranscoderFileError(`cannot read ${JSON.stringify(path)}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
}

export async function readRequired(path: string, what: string, layout: string): Promise<Uint8Array> {
  const bytes = await readOptional(path);
  if (bytes === undefined) throw new TranscoderFileError(`${what} ${JSON.stringify(path)} does not exist; ${layout}.`);
  return bytes;
}

export async function readJson(path: string, layout: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readRequired(path, 'config', layout));
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new TranscoderFileError(`${JSON.stringify(path)} is not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
}

/** The float tensors of a safetensors file, as float32 (F16, BF16 and F64 are converted). */
export function floatTensors(bytes: Uint8Array, path: string): Map<string, HostTensor<'float32'>> {
  const tensors = new Map<string, HostTensor<'float32'>>();
  let contents: ReturnType<typeof readSafetensors>;
  try {
    contents = readSafetensors(bytes);
  } catch (cause) {
    throw new TranscoderFileError(`${JSON.stringify(path)} is not a readable safetensors file: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause });
  }
  for (const [name, tensor] of contents.tensors) {
    if (!['F32', 'F64', 'F16', 'BF16'].includes(tensor.dtype)) continue;
    const data = toTypedArray(tensor);
    tensors.set(name, hostTensor('float32', tensor.shape, data instanceof Float32Array ? data : Float32Array.from(data as Float64Array)));
  }
  return tensors;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

/** A named tensor of the expected shape, or a TranscoderFileError that says what is wrong and where. */
export function pickTensor(tensors: Map<string, HostTensor<'float32'>>, name: string, shape: readonly number[], path: string, implied: string): HostTensor<'float32'> {
  const tensor = tensors.get(name);
  if (tensor === undefined) throw new TranscoderFileError(`${JSON.stringify(path)} has no '${name}'; found ${[...tensors.keys()].join(', ') || 'no float tensors'}.`);
  if (!sameShape(tensor.shape, shape)) {
    throw new TranscoderFileError(
      `'${name}' in ${JSON.stringify(path)} has shape [${tensor.shape.join(', ')}], but ${implied} implies [${shape.join(', ')}]; the widths disagree, so the file is not the transcoder its config describes.`,
    );
  }
  return tensor;
}
