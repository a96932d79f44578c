import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { messageOf } from './crash-safe-files.js';
import { RunDirectoryError, RunDirectoryLockedError } from './errors/index.js';
import { makeDirectory } from './make-directory.js';

/** Who holds a run directory's lock, as its lock file records it. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** When the lock was taken, ISO 8601. */
  readonly since: string;
  /** The holder's start time in clock ticks after boot (Linux `/proc/<pid>/stat`), so that a reused pid is not taken for the holder. */
  readonly processStart: number | null;
  /** What the holder runs (its command line), for the message a second writer gets. */
  readonly command: string;
  /** Tells this lock apart from a later one by the same process. */
  readonly token: string;
}

export interface RunDirectoryLock {
  /** The lock file, `<parent>/.<name>.lock`. */
  readonly file: string;
  readonly holder: LockHolder;
  /** Deletes the lock file if it is still this lock's; idempotent. Also done when the process exits. */
  release(): void;
}

/**
 * The lock file of a run directory: beside it, not in it, so that it also
 * guards what happens before the directory exists or while an earlier run is
 * moved aside, and stays put when the directory is renamed.
 */
export function runDirectoryLockFile(directory: string): string {
  const resolved = path.resolve(directory);
  return path.join(path.dirname(resolved), `.${path.basename(resolved)}.lock`);
}

/**
 * Takes the exclusive lock of `directory` (a run directory, existing or not),
 * so that one process at a time writes there: a second `nnd train` of the
 * same run name, or a `--resume` while the run goes on, gets
 * `RunDirectoryLockedError` naming the holder. A lock whose holder is gone
 * (same host, and no live process with its pid and start time: a run killed
 * with SIGKILL or by a power loss) is stale and taken over. A lock held from
 * another host (a shared file system) cannot be checked, so it is refused
 * with the file to delete if that host's run is over.
 *
 * The lock file is written whole under a temporary name and then hard-linked
 * into place, which fails if it exists: creation is atomic and readers never
 * see half a lock.
 */
export function lockRunDirectory(directory: string): RunDirectoryLock {
  const file = runDirectoryLockFile(directory);
  makeDirectory(path.dirname(file));
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    processStart: processStartTime(process.pid),
    command: process.argv.slice(1).join(' '),
    token: randomBytes(8).toString('hex'),
  };
  // Two rounds: the second follows the takeover of a stale lock.
  for (let round = 0; round < 2; round++) {
    if (tryCreate(file, holder)) return heldLock(file, holder);
    const current = readHolder(file);
    if (current === undefined) continue; // Released between our attempt and the read.
    if (!isStale(current)) throw lockedError(directory, file, current);
    removeIfStill(file, current);
  }
  const current = readHolder(file);
  throw current === undefined ? new RunDirectoryError(`cannot lock ${directory}: ${file} keeps appearing and disappearing; another process is taking it`) : lockedError(directory, file, current);
}

function tryCreate(file: string, holder: LockHolder): boolean {
  const temporary = `${file}.${holder.token}.tmp`;
  try {
    fs.writeFileSync(temporary, `${JSON.stringify(holder, null, 2)}\n`, { flush: true });
    fs.linkSync(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new RunDirectoryError(`cannot create the lock file ${file}: ${messageOf(error)}. Check that ${path.dirname(file)} is writable.`, { cause: error });
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

function heldLock(file: string, holder: LockHolder): RunDirectoryLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const current = readHolder(file);
    if (current?.token === holder.token) fs.rmSync(file, { force: true });
  };
  // A process.exit (a second Ctrl-C) skips the caller's `finally`; the lock still goes.
  process.on('exit', release);
  return { file, holder, release };
}

/** The holder recorded in `file`; undefined when there is no file. A file nnd did not write (not a holder) counts as a holder that is gone. */
function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RunDirectoryError(`cannot read the lock file ${file}: ${messageOf(error)}`, { cause: error });
  }
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string') return value as LockHolder;
  } catch {
    // Falls through: not a lock nnd wrote.
  }
  return { pid: 0, host: hostname(), since: '?', processStart: null, command: '?', token: `unreadable:${text}` };
}

function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  if (holder.pid <= 0 || !processExists(holder.pid)) return true;
  // The pid is in use; by the holder only if it started when the holder did.
  const start = processStartTime(holder.pid);
  return holder.processStart !== null && start !== null && start !== holder.processStart;
}

/**
 * Moves a stale lock aside under a unique name and deletes it, unless what
 * was moved is no longer that stale lock (another process took it over in
 * between): then it is put back. Unlinking the path directly could delete
 * the fresh lock of a process that took over first.
 */
function removeIfStill(file: string, stale: LockHolder): void {
  const aside = `${file}.${randomBytes(6).toString('hex')}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new RunDirectoryError(`cannot remove the stale lock file ${file}: ${messageOf(error)}`, { cause: error });
  }
  if (readHolder(aside)?.token !== stale.token) {
    try {
      fs.linkSync(aside, file);
    } catch {
      // A third process already holds a new lock there; the one moved aside then lost the race.
    }
  }
  fs.rmSync(aside, { force: true });
}

function lockedError(directory: string, file: string, holder: LockHolder): RunDirectoryLockedError {
  const elsewhere = holder.host !== hostname();
  return new RunDirectoryLockedError(
    `${directory} is in use by another nnd process (pid ${holder.pid} on ${holder.host}, since ${holder.since}: ${holder.command}). ` +
      'Two writers would mix their metrics and checkpoints: wait for it to finish, stop it (Ctrl-C saves a checkpoint), or choose another run name.' +
      (elsewhere ? ` If that run on ${holder.host} is no longer running, delete ${file}.` : ''),
    { holder, file },
  );
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of `/proc/<pid>/stat` (after the parenthesised command, which may itself hold spaces); null off Linux. */
function processStartTime(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}
