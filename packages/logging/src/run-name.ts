import { ConfigError } from '@nnd/core';
import type { RunConfig } from './logger.js';

/** The fields of the reference's run name, in order. */
export const RUN_NAME_FIELDS = ['model_name', 'hook_point', 'dict_size', 'sae_type', 'top_k', 'lr'] as const;

/**
 * The reference's run name, `{model_name}_{hook_point}_{dict_size}_{sae_type}_{top_k}_{lr}`,
 * with values printed as Python prints them (`lr` 3e-4 gives `0.0003`, 1e-5
 * gives `1e-05`), so names match runs made by the reference.
 */
export function runName(config: RunConfig): string {
  const missing = RUN_NAME_FIELDS.filter((field) => config[field] === undefined || config[field] === null);
  if (missing.length > 0) {
    throw new ConfigError(`runName needs config fields ${RUN_NAME_FIELDS.join(', ')}; missing: ${missing.join(', ')}. Set them, or give the run a 'name'.`);
  }
  return RUN_NAME_FIELDS.map((field) => pythonText(field, config[field], field === 'lr')).join('_');
}

/** `str(value)` in Python; `isFloat` marks fields that are floats there, so 1 prints as `1.0`. */
function pythonText(field: string, value: unknown, isFloat: boolean): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return isFloat || !Number.isInteger(value) ? pythonFloat(value) : String(value);
  throw new ConfigError(`runName: config field '${field}' must be a string or a number, got ${typeof value}`);
}

/** Python's `repr(float)`: shortest round-trip digits, fixed notation for exponents -4..15, else `1e-05` style. */
export function pythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  // toExponential() without digits gives the shortest digits that round-trip, as Python's repr does.
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 16) {
    // Number's own text is fixed notation from 1e-7 to 1e21, so it covers Python's whole fixed range with the same digits.
    const fixed = String(value);
    return fixed.includes('.') ? fixed : `${fixed}.0`;
  }
  const sign = exponent < 0 ? '-' : '+';
  return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}
