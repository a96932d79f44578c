import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { describeValue } from './errors/describe-value.js';
import { PathOutsideFolderError } from './errors/path-outside-folder-error.js';

export interface ResolveInsideOptions {
  /** The folder (inside `folder`) that `relativePath` is relative to; `folder` itself by default. */
  readonly from?: string;
}

/**
 * The absolute path that `relativePath`, a path read from metadata (a
 * checkpoint's `trainer_state.json`, a run's `config.json`, a cache's
 * manifest), names inside `folder`. Throws PathOutsideFolderError, naming
 * `what`, when it is not a non-empty relative string, or when it leads out of
 * `folder` by `..` or, once symbolic links are followed (for its longest
 * existing part, so a file yet to be written is checked too), by a link.
 * `..` that stays inside (`../sae_0` from a subfolder) is allowed.
 */
export function resolveInside(folder: string, relativePath: unknown, what: string, options: ResolveInsideOptions = {}): string {
  const root = resolve(folder);
  const refuse = (problem: string): never => {
    throw new PathOutsideFolderError(
      `${what} is ${describeValue(relativePath)}, ${problem}; it must be a relative path inside ${root}. ` +
        'The file was changed by hand or by another program; restore it or write it again with nnd.',
      { what, path: String(relativePath), folder: root },
    );
  };
  if (typeof relativePath !== 'string' || relativePath === '') return refuse('not a path');
  if (relativePath.includes('\0')) return refuse('which holds a NUL character');
  if (isAbsolute(relativePath)) return refuse('an absolute path');
  const target = resolve(options.from ?? root, relativePath);
  if (!isWithin(root, target)) return refuse('which leads outside that folder');
  if (!existsSync(root)) return target;
  const realRoot = realpathSync(root);
  let existing = target;
  while (!existsSync(existing) && existing !== root) existing = dirname(existing);
  if (!isWithin(realRoot, realpathSync(existing))) return refuse(`which leads outside that folder through a symbolic link (${existing} is ${realpathSync(existing)})`);
  return target;
}

function isWithin(folder: string, path: string): boolean {
  const inner = relative(folder, path);
  return inner === '' || (!isAbsolute(inner) && inner !== '..' && !inner.startsWith(`..${sep}`));
}
