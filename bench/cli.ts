import { parseArgs } from 'node:util';
// By path, and the benchmarks only after it: the process that relaunches loads nothing it does not need.
import { relaunchWithLargeBufferReuse } from '../packages/train/src/large-buffer-reuse.js';

/**
 * `pnpm --silent bench <name> [--flags] [--json]`: runs one benchmark; with
 * --json the last stdout line is a JSON object with the results.
 */
// The same process settings as `nnd` runs with, so that benchmarks time what users get.
const relaunched = await relaunchWithLargeBufferReuse();
if (relaunched !== undefined) process.exit(relaunched);
const { benchmarks } = await import('./benchmarks.js');

const [name, ...rest] = process.argv.slice(2);
const benchmark = name ? benchmarks[name] : undefined;
if (!benchmark) {
  console.error(`Usage: pnpm --silent bench <${Object.keys(benchmarks).join('|')}> [options] [--json]`);
  process.exit(1);
}
const { values } = parseArgs({ args: rest, options: { ...benchmark.options, json: { type: 'boolean', default: false } }, strict: true });
const result = await benchmark.run(values as Record<string, string | boolean | undefined>, (line) => {
  if (!values.json) console.log(line);
  else console.error(line);
});
if (values.json) console.log(JSON.stringify(result));
else console.log(result);
