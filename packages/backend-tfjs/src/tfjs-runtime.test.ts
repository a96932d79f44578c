import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TFJS_RUNTIMES, isModuleNotFound } from './tfjs-runtime.js';

/** The message plain Node (no Vite in between) gives for importing `specifier` from this package. */
function nodeImportError(specifier: string): string {
  const script = `import(${JSON.stringify(specifier)}).then(() => console.log('loaded'), (error) => console.log(error.message))`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dirname(fileURLToPath(import.meta.url)), encoding: 'utf8' }).trim();
}

describe('isModuleNotFound', () => {
  it('recognises a missing runtime package in plain Node and under Vite', () => {
    const message = nodeImportError('@tensorflow/tfjs-node-gpu');
    expect(message).toMatch(/Cannot find package '@tensorflow\/tfjs-node-gpu'/);
    expect(isModuleNotFound(new Error(message), '@tensorflow/tfjs-node-gpu')).toBe(true);
    expect(isModuleNotFound(new Error('Could not resolve "@tensorflow/tfjs-node" imported by "@nnd/backend-tfjs".'), '@tensorflow/tfjs-node')).toBe(true);
  });

  it('does not mistake an installed but broken package for a missing one', () => {
    // A dependency of the package, or its native binding, missing: the user must see that, not a silent fallback.
    const dependency = "Cannot find package '@mapbox/node-pre-gyp' imported from /app/node_modules/@tensorflow/tfjs-node/dist/index.js";
    const binding = "Cannot find module '/app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node'";
    expect(isModuleNotFound(new Error(dependency), '@tensorflow/tfjs-node')).toBe(false);
    expect(isModuleNotFound(new Error(binding), '@tensorflow/tfjs-node')).toBe(false);
    expect(isModuleNotFound(new Error("Cannot find package '@tensorflow/tfjs-node' imported from x"), '@tensorflow/tfjs-node-gpu')).toBe(false);
  });

  it('tries the runtimes fastest first', () => {
    expect(TFJS_RUNTIMES).toEqual(['node-gpu', 'node', 'wasm', 'cpu']);
  });
});
