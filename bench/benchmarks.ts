import type { ParseArgsConfig } from 'node:util';
import { matmulBenchmark } from './matmul.js';

export interface Benchmark {
  options: NonNullable<ParseArgsConfig['options']>;
  run(options: Record<string, string | boolean | undefined>, log: (line: string) => void): Promise<Record<string, unknown>>;
}

export const benchmarks: Record<string, Benchmark> = {
  matmul: matmulBenchmark,
};
