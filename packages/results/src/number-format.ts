/**
 * How tables print a value: integers in full (dictionary sizes, steps),
 * other numbers to 4 significant digits, switching to exponent notation
 * below 1e-3 where fixed notation would hide the digits; a missing value is
 * an em dash.
 */
export function formatValue(value: number | string | undefined): string {
  if (value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) return value.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(4)));
}
