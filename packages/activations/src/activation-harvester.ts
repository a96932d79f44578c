import { ShapeError } from '@nnd/core';
import type { ActivationModel } from './activation-model.js';
import type { DatasetPosition, TokenPacker } from './token-packer.js';

/** The activations of one model batch, with the token each row came from. */
export interface HarvestedBatch {
  readonly rows: number;
  /** Token id at each row's position, [rows]. */
  readonly tokens: BigInt64Array;
  /** [rows, activationSize] row-major per hook. */
  readonly activations: Readonly<Record<string, Float32Array>>;
}

export interface ActivationHarvesterOptions {
  readonly model: ActivationModel;
  readonly packer: TokenPacker;
  readonly hooks: readonly string[];
  /** Token ids whose positions are dropped (BOS and other special tokens, whose activations have outlier norms). */
  readonly excludedTokenIds?: readonly number[];
}

/**
 * One model run per packed token batch, at every requested hook at once (so
 * SAEs on several layers share a forward pass), with excluded positions
 * removed.
 */
export class ActivationHarvester {
  readonly hooks: readonly string[];
  readonly sizes: readonly number[];
  readonly excludedTokenIds: readonly number[];
  private readonly excluded: ReadonlySet<bigint>;

  constructor(private readonly options: ActivationHarvesterOptions) {
    this.hooks = [...options.hooks];
    this.sizes = this.hooks.map((hook) => options.model.activationSize(hook));
    this.excludedTokenIds = [...(options.excludedTokenIds ?? [])];
    this.excluded = new Set(this.excludedTokenIds.map(BigInt));
  }

  /** Where the next batch's tokens start. */
  position(): DatasetPosition {
    return this.options.packer.position();
  }

  get sequenceLength(): number {
    return this.options.packer.sequenceLength;
  }

  /** Rows of one full model batch before any are dropped. */
  get maxRows(): number {
    const { packer } = this.options;
    return packer.rows * packer.sequenceLength;
  }

  /** The next batch's activations, or undefined once the dataset has ended. */
  async next(): Promise<HarvestedBatch | undefined> {
    const tokens = await this.options.packer.next();
    if (tokens === undefined) return undefined;
    const activations = await this.options.model.harvest(tokens, this.hooks);
    const positions = tokens.data.length;
    this.hooks.forEach((hook, index) => {
      const values = activations[hook];
      if (values === undefined || values.length !== positions * this.sizes[index]) {
        throw new ShapeError(
          `${this.options.model.name} returned ${values === undefined ? 'nothing' : `${values.length} values`} for hook '${hook}'; ` +
            `expected ${positions * this.sizes[index]} (${positions} positions x ${this.sizes[index]}).`,
        );
      }
    });
    if (this.excluded.size === 0) return { rows: positions, tokens: tokens.data, activations };
    const kept: number[] = [];
    for (let position = 0; position < positions; position++) if (!this.excluded.has(tokens.data[position])) kept.push(position);
    const compact: Record<string, Float32Array> = {};
    this.hooks.forEach((hook, index) => {
      const size = this.sizes[index];
      const source = activations[hook];
      const target = new Float32Array(kept.length * size);
      kept.forEach((position, row) => target.set(source.subarray(position * size, (position + 1) * size), row * size));
      compact[hook] = target;
    });
    return { rows: kept.length, tokens: BigInt64Array.from(kept, (position) => tokens.data[position]), activations: compact };
  }
}
