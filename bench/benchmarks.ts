import type { ParseArgsConfig } from 'node:util';
import { cltBenchmark } from './clt.js';
import { harvestBenchmark } from './harvest.js';
import { harvestPytorchBenchmark } from './harvest-pytorch.js';
import { matmulBenchmark } from './matmul.js';
import { saeBenchmark } from './sae.js';
import { saePytorchBenchmark } from './sae-pytorch.js';

export interface Benchmark {
  options: NonNullable<ParseArgsConfig['options']>;
  run(options: Record<string, string | boolean | undefined>, log: (line: string) => void): Promise<Record<string, unknown>>;
}

export const benchmarks: Record<string, Benchmark> = {
  matmul: matmulBenchmark,
  harvest: harvestBenchmark,
  'harvest-pytorch': harvestPytorchBenchmark,
  sae: saeBenchmark,
  'sae-pytorch': saePytorchBenchmark,
  clt: cltBenchmark,
};
