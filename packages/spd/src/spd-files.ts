import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromTypedArray, readSafetensors, toTypedArray, writeFileDurably, writeSafetensors, type HostTensor, type SafetensorsTensor } from '@nnd/core';
import { componentNames, createSpd, type SpdDecomposition } from './spd-decomposition.js';
import { SpdFileError } from './spd-file-error.js';
import { foldTiedComponents } from './tied-components.js';
import { SpdModelError } from './spd-model-error.js';
import type { SpdTarget } from './spd-target.js';
import { weightsSha256 } from './weights-digest.js';

export const SPD_CONFIG_FILE = 'config.json';
export const SPD_WEIGHTS_FILE = 'components.safetensors';

/** What an SPD folder's config.json records. */
export interface SpdFolderConfig {
  readonly architecture: 'spd';
  readonly config: SpdDecomposition['config'];
  /** The decomposed model: its name and the sha256 of its weights (weightsSha256). */
  readonly target: { readonly name: string; readonly weights_sha256: string };
  /** The modules with their matrices' shapes, for readers without nnd. */
  readonly modules: readonly { readonly name: string; readonly C: number; readonly d_in: number; readonly d_out: number }[];
  readonly metadata: Record<string, unknown>;
}

/**
 * Writes an SPD decomposition's folder: `components.safetensors` with
 * `{module}.V` [d_in, C], `{module}.U` [C, d_out] and the CI functions'
 * weights `{module}.ci.W{i}`, `{module}.ci.b{i}`, and `config.json` with the
 * SPD config, the target model's name and the sha256 of its weights. Both
 * atomically; the config last.
 */
export async function saveSpd(directory: string, spd: SpdDecomposition, params: Record<string, HostTensor>, metadata: Record<string, unknown> = {}): Promise<void> {
  await mkdir(directory, { recursive: true });
  const tensors: Record<string, SafetensorsTensor> = {};
  // A tied target's components are its source's: the file holds the shared tensors once, in the source's V and U.
  const folded = foldTiedComponents(spd, params);
  for (const name of Object.keys(folded).sort()) {
    const tensor = folded[name];
    tensors[name] = fromTypedArray('F32', [...tensor.shape], tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as ArrayLike<number>));
  }
  await writeSafetensors(join(directory, SPD_WEIGHTS_FILE), tensors, { format: 'pt' });
  const folder: SpdFolderConfig = {
    architecture: 'spd',
    config: spd.config,
    target: { name: spd.target.name, weights_sha256: weightsSha256(spd.target.weights()) },
    modules: spd.modules.map(({ name, C, dIn, dOut }) => ({ name, C, d_in: dIn, d_out: dOut })),
    metadata,
  };
  await writeFileDurably(join(directory, SPD_CONFIG_FILE), `${JSON.stringify(folder, null, 2)}\n`);
}

/**
 * The config.json of an SPD folder, or undefined when `directory` holds no
 * readable config.json of architecture 'spd' (another family's folder, or
 * none): how a reader tells an SPD folder apart before it has the model.
 */
export async function readSpdFolderConfig(directory: string): Promise<SpdFolderConfig | undefined> {
  let folder: unknown;
  try {
    folder = JSON.parse(await readFile(join(directory, SPD_CONFIG_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  return typeof folder === 'object' && folder !== null && (folder as { architecture?: unknown }).architecture === 'spd' ? (folder as SpdFolderConfig) : undefined;
}

export interface LoadedSpd {
  readonly spd: SpdDecomposition;
  readonly params: Record<string, HostTensor>;
  readonly metadata: Record<string, unknown>;
}

/**
 * Reads an SPD folder back against `target`, which must be the model it
 * decomposed: a target whose weights' sha256 differs from the recorded one
 * is refused (SpdModelError), as are missing or misshapen tensors (SpdFileError).
 */
export async function loadSpd(directory: string, target: SpdTarget): Promise<LoadedSpd> {
  const configPath = join(directory, SPD_CONFIG_FILE);
  let folder: SpdFolderConfig;
  try {
    folder = JSON.parse(await readFile(configPath, 'utf8')) as SpdFolderConfig;
  } catch (cause) {
    throw new SpdFileError(`loadSpd: cannot read ${configPath}: ${(cause as Error).message}; an SPD folder holds ${SPD_CONFIG_FILE} and ${SPD_WEIGHTS_FILE}.`, { cause });
  }
  if (folder.architecture !== 'spd')
    throw new SpdFileError(
      `loadSpd: ${configPath} is for architecture ${JSON.stringify(folder.architecture)}, not 'spd'; load it with its own family (nnd eval reads any run directory), or point loadSpd at an SPD folder.`,
    );
  const sha = weightsSha256(target.weights());
  if (folder.target?.weights_sha256 !== sha) {
    throw new SpdModelError(
      `loadSpd: ${directory} decomposes ${folder.target?.name ?? 'a model'} whose weights have sha256 ${folder.target?.weights_sha256}, but the model given (${target.name}) has ${sha}; ` +
        'its weights changed since the decomposition was trained. Load it with the model it was trained on, or train it again.',
    );
  }
  const spd = createSpd(target, folder.config);
  const weightsPath = join(directory, SPD_WEIGHTS_FILE);
  let contents: ReturnType<typeof readSafetensors>;
  try {
    contents = readSafetensors(new Uint8Array(await readFile(weightsPath)));
  } catch (cause) {
    throw new SpdFileError(`loadSpd: cannot read ${weightsPath}: ${(cause as Error).message}; restore it from the run's checkpoint folder, or train again.`, { cause });
  }
  const expected = spd.parameterShapes();
  const params: Record<string, HostTensor> = {};
  const tiedTargets = new Set(spd.config.tied_weights.flatMap(([, target]) => [componentNames(target).V, componentNames(target).U]));
  for (const [name, shape] of Object.entries(expected)) {
    const tensor = contents.tensors.get(name);
    if (tensor === undefined && tiedTargets.has(name)) {
      // saveSpd folds a tied target's components into its source's: its own part starts again at 0.
      params[name] = { dtype: 'float32', shape: [...shape], data: new Float32Array(shape.reduce((product, size) => product * size, 1)) };
      continue;
    }
    if (tensor === undefined) throw new SpdFileError(`loadSpd: ${weightsPath} has no tensor '${name}'; the config needs it.`);
    if (tensor.shape.join() !== shape.join()) throw new SpdFileError(`loadSpd: '${name}' in ${weightsPath} is [${tensor.shape.join(', ')}]; the config needs [${shape.join(', ')}].`);
    params[name] = { dtype: 'float32', shape: [...shape], data: Float32Array.from(toTypedArray(tensor) as Float32Array) };
  }
  return { spd, params, metadata: folder.metadata ?? {} };
}
