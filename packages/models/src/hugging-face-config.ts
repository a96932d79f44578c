import { ConfigError } from '@nnd/core';
import { ACTIVATION_ALIASES } from './activations.js';
import type { Activation } from './transformer-config.js';

/**
 * Typed reads of a Hugging Face `config.json`, each failure naming the key
 * and the file. Reads rotary settings from both layouts: transformers 5's
 * `rope_parameters` object and older top-level keys.
 */
export class HuggingFaceConfig {
  constructor(
    readonly raw: Readonly<Record<string, unknown>>,
    readonly source: string,
  ) {}

  get modelType(): string {
    return this.string('model_type');
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  number(key: string, fallback?: number): number {
    const value = this.raw[key];
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConfigError(`${this.source}: "${key}" must be a number, got ${JSON.stringify(value)}.`);
    }
    return value;
  }

  integer(key: string, fallback?: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${this.source}: "${key}" must be a non-negative integer, got ${value}.`);
    return value;
  }

  optionalInteger(key: string): number | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    // Some configs list several end-of-sequence ids; the first is the one generation appends.
    if (Array.isArray(value) && typeof value[0] === 'number') return value[0];
    return this.integer(key);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') throw new ConfigError(`${this.source}: "${key}" must be true or false, got ${JSON.stringify(value)}.`);
    return value;
  }

  string(key: string, fallback?: string): string {
    const value = this.raw[key];
    if ((value === undefined || value === null) && fallback !== undefined) return fallback;
    if (typeof value !== 'string') throw new ConfigError(`${this.source}: "${key}" must be a string, got ${JSON.stringify(value)}.`);
    return value;
  }

  activation(key: string, fallback?: string): Activation {
    const name = this.string(key, fallback);
    const activation = ACTIVATION_ALIASES[name];
    if (!activation) {
      throw new ConfigError(`${this.source}: "${key}" is '${name}'; supported activations: ${Object.keys(ACTIVATION_ALIASES).join(', ')}.`);
    }
    return activation;
  }

  /** A rotary setting from `rope_parameters` (transformers 5), else the first top-level key present, else the fallback. */
  ropeParameter(key: string, legacyKeys: readonly string[], fallback: number): number {
    const parameters = this.raw.rope_parameters;
    if (typeof parameters === 'object' && parameters !== null) {
      const value = (parameters as Record<string, unknown>)[key];
      if (value !== undefined && value !== null) {
        if (typeof value !== 'number') throw new ConfigError(`${this.source}: "rope_parameters.${key}" must be a number, got ${JSON.stringify(value)}.`);
        return value;
      }
    }
    for (const legacy of legacyKeys) if (this.has(legacy)) return this.number(legacy);
    return fallback;
  }

  /** Rejects rotary scalings we do not implement rather than silently computing other numbers. */
  requireDefaultRope(): void {
    const candidates = [this.raw.rope_parameters, this.raw.rope_scaling];
    for (const candidate of candidates) {
      if (typeof candidate !== 'object' || candidate === null) continue;
      const record = candidate as Record<string, unknown>;
      const type = record.rope_type ?? record.type ?? 'default';
      if (type !== 'default') {
        throw new ConfigError(`${this.source}: rotary scaling '${String(type)}' is not supported yet; only rope_type 'default' is.`);
      }
    }
  }
}
