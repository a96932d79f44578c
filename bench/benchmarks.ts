import type { ParseArgsConfig } from 'node:util';
import { cltPytorchBenchmark } from './clt-pytorch.js';
import { cltBenchmark } from './clt.js';
import { dashboardBenchmark } from './dashboard.js';
import { harvestBenchmark } from './harvest.js';
import { harvestPytorchBenchmark } from './harvest-pytorch.js';
import { matmulBenchmark } from './matmul.js';
import { moltBenchmark } from './molt.js';
import { moltPytorchBenchmark } from './molt-pytorch.js';
import { resumeBenchmark } from './resume.js';
import { saeBenchmark } from './sae.js';
import { spdBenchmark } from './spd.js';
import { saePytorchBenchmark } from './sae-pytorch.js';
import { spdPytorchBenchmark } from './spd-pytorch.js';
import { transcoderPytorchBenchmark } from './transcoder-pytorch.js';
import { transcoderBenchmark } from './transcoder.js';

export interface Benchmark {
  options: NonNullable<ParseArgsConfig['options']>;
  run(options: Record<string, string | boolean | undefined>, log: (line: string) => void): Promise<Record<string, unknown>>;
}

export const benchmarks: Record<string, Benchmark> = {
  matmul: matmulBenchmark,
  harvest: harvestBenchmark,
  'harvest-pytorch': harvestPytorchBenchmark,
  dashboard: dashboardBenchmark,
  sae: saeBenchmark,
  'sae-pytorch': saePytorchBenchmark,
  'transcoder-pytorch': transcoderPytorchBenchmark,
  'clt-pytorch': cltPytorchBenchmark,
  transcoder: transcoderBenchmark,
  clt: cltBenchmark,
  molt: moltBenchmark,
  resume: resumeBenchmark,
  'molt-pytorch': moltPytorchBenchmark,
  spd: spdBenchmark,
  'spd-pytorch': spdPytorchBenchmark,
};
