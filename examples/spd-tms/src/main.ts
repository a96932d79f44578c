/**
 * The paper's TMS 40 -> 10, trained and decomposed by SPD, with its figures:
 *
 *   pnpm --filter @nnd/example-spd-tms start                  # runs/spd-tms/report.md
 *   SPD_STEPS=40000 SPD_BATCH=4096 TARGET_STEPS=10000 pnpm --filter @nnd/example-spd-tms start   # the paper's lengths
 */
import { DEFAULT_SCALE, runTmsExample } from './example.js';

const number = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
const scale = {
  ...DEFAULT_SCALE,
  targetSteps: number('TARGET_STEPS', DEFAULT_SCALE.targetSteps),
  targetBatch: number('TARGET_BATCH', DEFAULT_SCALE.targetBatch),
  spdSteps: number('SPD_STEPS', DEFAULT_SCALE.spdSteps),
  spdBatch: number('SPD_BATCH', DEFAULT_SCALE.spdBatch),
  C: number('SPD_C', DEFAULT_SCALE.C),
  importanceMinimalityCoeff: number('SPD_IMPORTANCE', DEFAULT_SCALE.importanceMinimalityCoeff),
  tiedComponents: process.env.SPD_TIED !== '0',
  targetWeights: process.env.TARGET_WEIGHTS,
  console: true,
};
const directory = process.env.OUT ?? 'runs/spd-tms';
const result = await runTmsExample(directory, scale);
const line = (name: string) => {
  const trained = result.trained[name];
  return `${name}: ${trained.featuresWithOwnComponent} of ${scale.features} features with their own component (${result.atInit[name].featuresWithOwnComponent} at init), IdentityCIError ${trained.identityCiError}, ${result.alive[name]} of ${scale.C} components alive`;
};
console.log(`${line('linear1')}\n${line('linear2')}\nMMCS ${result.mmcs.toFixed(3)}, ML2R ${result.ml2r.toFixed(3)}; ${result.minutes.toFixed(1)} min\nReport: ${directory}/report.md`);
