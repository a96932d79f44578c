export { createMolt, createMoltFromConfig, DEFAULT_MOLT_INPUT, DEFAULT_MOLT_OUTPUT, molt, parametersPerActiveTransform, uName, vName } from './molt.js';
export type { Molt } from './molt.js';
export { ANTHROPIC_RANKS, defaultRankCounts, MOLT_GATES, moltConfigSchema, parseMoltConfig, rankGroups, transformCount } from './molt-config.js';
export type { MoltConfig, MoltConfigInput, MoltGate, RankGroup } from './molt-config.js';
export { batchTopKGate, jumpReluGate, topKGate } from './molt-gates.js';
export type { JumpReluSurrogate } from './molt-gates.js';
