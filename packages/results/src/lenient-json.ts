import { ResultsError } from './errors/index.js';

/**
 * JSON.parse that also takes the bare `NaN`, `Infinity` and `-Infinity` that
 * W&B's history and summary strings hold (Python's json writes them, and the
 * server passes them through). Those tokens become numbers; tokens inside
 * strings are left alone.
 */
export function parseLenientJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Fall through: only pay for the rewrite when plain JSON fails.
  }
  let sawNonFinite = false;
  // Strings are matched first so that a `NaN` inside one is skipped over whole.
  const rewritten = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) => {
    if (token.startsWith('"')) return token;
    sawNonFinite = true;
    // Escaped in the JSON text, so that the parsed string starts with the NUL of the mark.
    return `"\\u0000${NON_FINITE_MARK.slice(1)}${token}"`;
  });
  try {
    const value = JSON.parse(rewritten) as unknown;
    return sawNonFinite ? reviveNonFinite(value) : value;
  } catch (error) {
    throw new ResultsError(`${what} is not JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** A prefix no real string starts with, marking the rewritten tokens. */
const NON_FINITE_MARK = '\u0000nnd-non-finite:';

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

function reviveNonFinite(value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith(NON_FINITE_MARK)) return NON_FINITE[value.slice(NON_FINITE_MARK.length)];
  if (Array.isArray(value)) return value.map(reviveNonFinite);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, reviveNonFinite(entry)]));
  }
  return value;
}
