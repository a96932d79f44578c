/**
 * Holds a run directory's lock in a child process until killed:
 * `node --import tsx run-directory-lock.test-support.ts <directory>`. Prints
 * `locked` once it holds the lock, or the error's code if it could not.
 * SIGTERM makes it call process.exit.
 */
import { NndError } from '@nnd/core';
import { lockRunDirectory } from './run-directory-lock.js';

const [directory] = process.argv.slice(2);
try {
  lockRunDirectory(directory);
  // As the CLI does on a second Ctrl-C: process.exit, which skips every `finally`.
  process.on('SIGTERM', () => process.exit(143));
  process.stdout.write('locked\n');
  setInterval(() => {}, 1000);
} catch (error) {
  process.stdout.write(`${NndError.isInstance(error) ? error.code : String(error)}\n`);
}
