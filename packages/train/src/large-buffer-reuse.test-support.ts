import { readFileSync } from 'node:fs';
import { relaunchWithLargeBufferReuse } from './large-buffer-reuse.js';

// Run as a script: `mode` says how the (relaunched) process ends.
const [mode] = process.argv.slice(2);
const code = await relaunchWithLargeBufferReuse();
if (code !== undefined) {
  process.stdout.write(`parent exits ${code}\n`);
  process.exit(code);
}
process.stdout.write(`child env ${process.env.MALLOC_MMAP_MAX_} ${process.env.MALLOC_TRIM_THRESHOLD_} ${process.env.GLIBC_TUNABLES}\n`);
if (mode === 'hugepages') {
  // 256 MB from malloc, every page touched: with the tunable the heap is madvised for huge pages.
  const buffer = Buffer.alloc(256 * 1024 * 1024, 1);
  const kilobytes = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1];
  process.stdout.write(`huge ${kilobytes} ${buffer.length}\n`);
  process.exit(7);
} else if (mode === 'signal') process.kill(process.pid, 'SIGTERM');
else if (mode === 'sigint') {
  let received = 0;
  process.on('SIGINT', () => {
    received++;
    // Exits a little later, so that a second (duplicated) SIGINT would be counted.
    if (received === 1)
      setTimeout(() => {
        process.stdout.write(`child got ${received} SIGINT\n`);
        process.exit(130);
      }, 300);
  });
  process.stdout.write('ready\n');
  setInterval(() => {}, 1000);
} else if (mode === 'orphan') {
  // Stays alive until killed, and says which process to look for.
  process.stdout.write(`child pid ${process.pid}\n`);
  setInterval(() => {}, 1000);
} else process.exit(7);
