import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultsError } from './errors/index.js';
import { writeReport } from './write-report.js';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-results-write-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('writeReport', () => {
  it('writes the report, creating its folder, and leaves no temporary file', async () => {
    const written = await writeReport([], path.join(root, 'out', 'report.html'));
    expect(written).toBe(path.join(root, 'out', 'report.html'));
    expect(fs.readFileSync(written, 'utf8')).toMatch(/^<!DOCTYPE html>/);
    expect(fs.readdirSync(path.join(root, 'out'))).toEqual(['report.html']);
  });

  it('throws ResultsError when the target cannot be written', async () => {
    fs.mkdirSync(path.join(root, 'taken.html'));
    await expect(writeReport([], path.join(root, 'taken.html'))).rejects.toBeInstanceOf(ResultsError);
    expect(fs.readdirSync(root).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
