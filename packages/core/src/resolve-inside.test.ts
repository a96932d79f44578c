import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PathOutsideFolderError } from './errors/index.js';
import { resolveInside } from './resolve-inside.js';

const directory = mkdtempSync(join(tmpdir(), 'nnd-resolve-inside-'));
const folder = join(directory, 'run');
mkdirSync(join(folder, 'step_3', 'sae_0'), { recursive: true });
writeFileSync(join(directory, 'secret.txt'), 'secret');
symlinkSync(join(directory, 'secret.txt'), join(folder, 'step_3', 'link-out'));
symlinkSync(directory, join(folder, 'escape'));
symlinkSync(join(folder, 'step_3', 'sae_0'), join(folder, 'link-in'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function refusal(path: unknown, from?: string): PathOutsideFolderError {
  try {
    resolveInside(folder, path, 'trainer_state.json members[0].directory', { from });
  } catch (error) {
    expect(error).toBeInstanceOf(PathOutsideFolderError);
    return error as PathOutsideFolderError;
  }
  throw new Error(`${String(path)} was accepted`);
}

describe('resolveInside', () => {
  it('resolves relative paths inside the folder, existing or not, from the folder or a subfolder', () => {
    expect(resolveInside(folder, 'step_3/sae_0', 'x')).toBe(join(folder, 'step_3', 'sae_0'));
    expect(resolveInside(folder, 'step_3/evaluation.json', 'x')).toBe(join(folder, 'step_3', 'evaluation.json'));
    expect(resolveInside(folder, 'new/deeper/file', 'x')).toBe(join(folder, 'new', 'deeper', 'file'));
    expect(resolveInside(folder, '../sae_0/cfg.json', 'x', { from: join(folder, 'step_3', 'sae_1') })).toBe(join(folder, 'step_3', 'sae_0', 'cfg.json'));
    expect(resolveInside(folder, '.', 'x')).toBe(folder);
    expect(resolveInside(folder, 'link-in/cfg.json', 'x')).toBe(join(folder, 'link-in', 'cfg.json'));
  });

  it('refuses absolute paths, .. out of the folder, symbolic links out of it, and values that are not paths, naming the field', () => {
    expect(refusal('/etc/passwd').message).toBe(
      `trainer_state.json members[0].directory is "/etc/passwd", an absolute path; it must be a relative path inside ${folder}. ` +
        'The file was changed by hand or by another program; restore it or write it again with nnd.',
    );
    expect(refusal('../secret.txt').message).toContain('"../secret.txt", which leads outside that folder;');
    expect(refusal('step_3/../../secret.txt').message).toContain('which leads outside that folder;');
    expect(refusal('../../secret.txt', join(folder, 'step_3')).message).toContain('which leads outside that folder;');
    expect(refusal('step_3/link-out').message).toContain('through a symbolic link');
    expect(refusal('escape/secret.txt').message).toContain('through a symbolic link');
    expect(refusal('escape/not-yet-written.json').message).toContain('through a symbolic link');
    expect(refusal(42).message).toContain('is 42, not a path');
    expect(refusal('').message).toContain('is "", not a path');
    expect(refusal(undefined).message).toContain('is missing, not a path');
    expect(refusal('a\0b').message).toContain('NUL');
    expect(refusal('/etc/passwd')).toMatchObject({ code: 'nnd.path_outside_folder', what: 'trainer_state.json members[0].directory', path: '/etc/passwd', folder });
  });
});
