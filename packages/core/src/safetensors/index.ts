export type { SafetensorsDType } from './dtype.js';
export type { SafetensorsTensor, SafetensorsTypedArray } from './tensor.js';
export { fromTypedArray, toTypedArray } from './tensor.js';
export type {
  SafetensorsHeader,
  SafetensorsSourceOptions,
  SafetensorsTensorInfo,
} from './parse-safetensors-header.js';
export { parseSafetensorsHeader } from './parse-safetensors-header.js';
export type { SafetensorsContents } from './read-safetensors.js';
export { readSafetensors } from './read-safetensors.js';
export type { SafetensorsFile } from './open-safetensors.js';
export { openSafetensors } from './open-safetensors.js';
export type { SafetensorsTensors } from './serialize-safetensors.js';
export { serializeSafetensors } from './serialize-safetensors.js';
export { writeSafetensors } from './write-safetensors.js';
