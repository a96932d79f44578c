/**
 * A value as a user wrote it, for error messages about configs: numbers
 * plain (NaN and Infinity included, which JSON would print as null),
 * strings quoted, everything else as JSON, and `missing` for undefined.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Cycles and BigInts.
    return String(value);
  }
}
