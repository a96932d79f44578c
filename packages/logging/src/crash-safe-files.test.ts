import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunDirectoryError } from './errors/index.js';
import { JsonLinesAppender, readJsonFile, readJsonLines, writeJsonAtomically } from './crash-safe-files.js';

let directory: string;
beforeEach(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nnd-logging-files-'));
});
afterEach(() => {
  fs.rmSync(directory, { recursive: true, force: true });
});

describe('JSON lines', () => {
  it('appends whole lines and reads them back', () => {
    const file = path.join(directory, 'rows.jsonl');
    const appender = JsonLinesAppender.open(file);
    appender.appendLine(JSON.stringify({ step: 0 }));
    appender.appendLine(JSON.stringify({ step: 1 }));
    appender.close();
    expect(readJsonLines(file)).toEqual([{ step: 0 }, { step: 1 }]);
  });

  it('leaves out a partial last line when reading, and cuts it off before appending', () => {
    const file = path.join(directory, 'rows.jsonl');
    fs.writeFileSync(file, '{"step":0}\n{"step":1}\n{"step":2,"lo');
    expect(readJsonLines(file)).toEqual([{ step: 0 }, { step: 1 }]);
    const appender = JsonLinesAppender.open(file);
    appender.appendLine('{"step":2}');
    appender.close();
    expect(fs.readFileSync(file, 'utf8')).toBe('{"step":0}\n{"step":1}\n{"step":2}\n');
  });

  it('cuts a file that is one partial line down to nothing', () => {
    const file = path.join(directory, 'rows.jsonl');
    fs.writeFileSync(file, '{"ste');
    JsonLinesAppender.open(file).close();
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });

  it('throws for a broken line in the middle, naming the line', () => {
    const file = path.join(directory, 'rows.jsonl');
    fs.writeFileSync(file, '{"step":0}\n{"st\n{"step":2}\n');
    expect(() => readJsonLines(file)).toThrow(RunDirectoryError);
    expect(() => readJsonLines(file)).toThrow(/line 2/);
  });

  it('reads a missing file as empty', () => {
    expect(readJsonLines(path.join(directory, 'missing.jsonl'))).toEqual([]);
  });
});

describe('atomic JSON', () => {
  it('replaces the file whole and leaves no temporary file', () => {
    const file = path.join(directory, 'summary.json');
    writeJsonAtomically(file, { a: 1 });
    writeJsonAtomically(file, { a: 2 });
    expect(readJsonFile(file)).toEqual({ a: 2 });
    expect(fs.readdirSync(directory)).toEqual(['summary.json']);
    expect(readJsonFile(path.join(directory, 'missing.json'))).toBeUndefined();
  });
});
