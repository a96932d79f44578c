/**
 * The reference's headline comparison (exp_011 and exp_012, with exp_007's
 * synthetic top-k sweep) on the LM that ships with nnd: BatchTopK
 * transcoders at k in {8, 16, 32, 64} on every layer, one cross-layer
 * transcoder over all layers, a MOLT per layer and one SPD of every MLP
 * matrix, each trained briefly,
 * then `nnd compare` over all of them. Every step is an `nnd` command; the
 * configs are the YAML files beside this folder.
 *
 *   pnpm --filter @nnd/example-compare-decompositions start   # runs/compare-decompositions/
 */
import { runCli, type CliIo } from '@nnd/cli';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));

type Config = 'transcoder.yaml' | 'clt.yaml' | 'molt.yaml' | 'spd.yaml';

export interface ExampleScale {
  readonly layers: readonly number[];
  readonly topK: readonly number[];
  /** `--set` pairs for every training run, and for each config's runs (smaller runs in CI). */
  readonly sets: readonly string[];
  readonly configSets?: Readonly<Partial<Record<Config, readonly string[]>>>;
  /** Arguments for `nnd compare`. */
  readonly compare: readonly string[];
}

/** The example as documented: 16 transcoders, 1 CLT, 4 MOLTs, 1 SPD, then the comparison on 16 384 tokens. */
export const FULL_SCALE: ExampleScale = {
  layers: [0, 1, 2, 3],
  topK: [8, 16, 32, 64],
  sets: [],
  compare: ['--tokens', '16384'],
};

/** Where each family's runs go, under the example's runs folder: `nnd compare` takes every run under them through its family. */
export const RUN_FOLDERS = { transcoders: 'transcoders', clt: 'clt', molt: 'molt', spd: 'spd' } as const;

async function nnd(args: readonly string[], io: Partial<CliIo>): Promise<void> {
  const code = await runCli(args, io);
  if (code !== 0) throw new Error(`nnd ${args.join(' ')} exited with ${code}`);
}

/** Whether a run directory holds a completed run (then the example does not train it again). */
function completed(run: string): boolean {
  const summary = join(run, 'summary.json');
  return existsSync(summary) && (JSON.parse(readFileSync(summary, 'utf8')) as { status?: unknown }).status === 'completed';
}

/**
 * Trains every decomposition into `runDirectory` and writes the comparison
 * into `out`. A run that completed before is kept, so a stopped example
 * continues where it stopped (delete the folder after changing a config).
 */
export async function runExample(runDirectory: string, out: string, scale: ExampleScale = FULL_SCALE, io: Partial<CliIo> = {}): Promise<void> {
  const train = async (config: Config, folder: string, name: string, sets: readonly string[]) => {
    if (completed(join(runDirectory, folder, name))) return;
    await nnd(
      [
        'train',
        '--config',
        join(EXAMPLE, config),
        '--set',
        `run_dir=${join(runDirectory, folder)}`,
        '--set',
        `name=${name}`,
        ...[...sets, ...scale.sets, ...(scale.configSets?.[config] ?? [])].flatMap((set) => ['--set', set]),
      ],
      io,
    );
  };
  for (const k of scale.topK) {
    for (const layer of scale.layers) await train('transcoder.yaml', RUN_FOLDERS.transcoders, `k${k}-L${layer}`, [`layer=${layer}`, `top_k=${k}`]);
  }
  await train('clt.yaml', RUN_FOLDERS.clt, 'clt', [`layers=[${scale.layers.join(',')}]`]);
  for (const layer of scale.layers) await train('molt.yaml', RUN_FOLDERS.molt, `L${layer}`, [`layer=${layer}`]);
  // One SPD decomposes both MLP matrices of every layer at once.
  await train('spd.yaml', RUN_FOLDERS.spd, 'spd', [`spd_modules=${scale.layers.map((layer) => `blocks.${layer}.mlp.W_in,blocks.${layer}.mlp.W_out`).join(',')}`]);
  await nnd(['compare', ...Object.values(RUN_FOLDERS).map((folder) => join(runDirectory, folder)), '--out', out, ...scale.compare], io);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(EXAMPLE, '..', '..', 'runs', 'compare-decompositions');
  await runExample(root, join(root, 'comparison'));
}
