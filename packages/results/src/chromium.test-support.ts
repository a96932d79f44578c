import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Names Debian and other distributions give the binary; `NND_CHROMIUM` names one explicitly. */
const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

/** The Chromium binary on this machine, or undefined (the browser tests then skip, saying so). */
export function findChromium(environment: Record<string, string | undefined> = process.env): string | undefined {
  const explicit = environment.NND_CHROMIUM;
  if (explicit !== undefined && explicit !== '') return fs.existsSync(explicit) ? explicit : undefined;
  for (const name of CANDIDATES) {
    try {
      const found = execFileSync('which', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      if (found !== '') return found;
    } catch {
      // Not on PATH under this name; try the next.
    }
  }
  return undefined;
}

/**
 * Runs headless Chromium once on `url` with `extraArguments` (`--dump-dom`,
 * `--screenshot=...`) and a fresh profile, and resolves to its stdout. The
 * flags keep it off the network and quiet: no first-run, sync, component
 * updates or background requests, no QUIC; `--no-sandbox` because CI runs as
 * root, where Chromium's sandbox refuses to start.
 */
export async function runHeadlessChromium(binary: string, url: string, extraArguments: readonly string[], timeoutMs = 90_000): Promise<string> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-chromium-profile-'));
  const argumentsList = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
    ...extraArguments,
    url,
  ];
  try {
    return await new Promise<string>((resolve, reject) => {
      execFile(binary, argumentsList, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${path.basename(binary)} failed (${error.message}); stderr ends: ${stderr.slice(-2000)}`));
        else resolve(stdout);
      });
    });
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
