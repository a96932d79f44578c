/**
 * The paper's one-layer residual MLP (toy model of compressed computation),
 * trained and decomposed by SPD, with its figures:
 *
 *   pnpm --filter @nnd/example-spd-resid-mlp start                  # runs/spd-resid-mlp/report.md
 *   SPD_STEPS=30000 SPD_BATCH=2048 pnpm --filter @nnd/example-spd-resid-mlp start   # the paper's length
 */
import { DEFAULT_SCALE, runResidMlpExample } from './example.js';

const number = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
const scale = {
  ...DEFAULT_SCALE,
  targetSteps: number('TARGET_STEPS', DEFAULT_SCALE.targetSteps),
  targetBatch: number('TARGET_BATCH', DEFAULT_SCALE.targetBatch),
  spdSteps: number('SPD_STEPS', DEFAULT_SCALE.spdSteps),
  spdBatch: number('SPD_BATCH', DEFAULT_SCALE.spdBatch),
  C: number('SPD_C', DEFAULT_SCALE.C),
  targetWeights: process.env.TARGET_WEIGHTS,
  console: true,
};
const directory = process.env.OUT ?? 'runs/spd-resid-mlp';
const result = await runResidMlpExample(directory, scale);
const [mlpIn, mlpOut] = Object.keys(result.alive);
console.log(
  [
    `${mlpIn}: ${result.trained.featuresWithOwnComponent} of ${scale.features} features with their own component (${result.atInit.featuresWithOwnComponent} at init), IdentityCIError ${result.trained.identityCiError}`,
    `alive (CI > 0.1 on held-out batches): ${mlpIn} ${result.alive[mlpIn]}, ${mlpOut} ${result.alive[mlpOut]} of ${scale.C}`,
    `neuron contributions, target against subcomponents: correlation ${result.contributionCorrelation.toFixed(3)}; ${result.minutes.toFixed(1)} min`,
    `Report: ${directory}/report.md`,
  ].join('\n'),
);
