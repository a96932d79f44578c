import { ConfigError } from '@nnd/core';
import { freemem, totalmem } from 'node:os';
import type { MemberConfig, RunConfig } from './run-config.js';

/** How much memory the machine has, in bytes (os.totalmem/os.freemem by default). */
export interface MachineMemory {
  readonly total: number;
  readonly free: number;
}

/** One part of a run's memory, for the message. */
interface MemoryPart {
  readonly what: string;
  readonly bytes: number;
}

export interface TrainingMemoryEstimate {
  /** Bytes: a lower bound, not counting the language model itself. */
  readonly bytes: number;
  readonly parts: readonly MemoryPart[];
  /** The largest single array the run allocates, in elements. */
  readonly largestArray: { readonly what: string; readonly elements: number };
}

const FLOAT32 = 4;

/**
 * What a member's memory depends on: its config's widths (`act_size` for an
 * SAE, which reads and writes one stream; `input_size`/`output_size` for a
 * transcoder) and sizes. The training job fills in widths the config leaves
 * to the model once the model is loaded.
 */
export type MemoryMember = Pick<MemberConfig, 'batch_size'> & { readonly dict_size?: unknown; readonly act_size?: unknown; readonly input_size?: unknown; readonly output_size?: unknown };

/** A member's features; a family without a dictionary (dict_size) counts none here, which keeps the estimate a lower bound. */
function featuresOf(member: object): number {
  const { dict_size: features } = member as { readonly dict_size?: unknown };
  return typeof features === 'number' ? features : 0;
}

/** Whether every member's widths are known from its config alone (no model needed); unknown widths count as 0 in an estimate, which stays a lower bound. */
export function widthsKnown(members: readonly MemoryMember[]): boolean {
  return members.every((member) => typeof member.act_size === 'number' || (typeof member.input_size === 'number' && typeof member.output_size === 'number'));
}

function memberWidths(member: MemoryMember): { input: number; output: number; shared: boolean } {
  if (typeof member.input_size === 'number' && typeof member.output_size === 'number') return { input: member.input_size, output: member.output_size, shared: false };
  const width = typeof member.act_size === 'number' ? member.act_size : 0;
  return { input: width, output: width, shared: true };
}

function widthText({ input, output, shared }: { input: number; output: number; shared: boolean }): string {
  if (shared) return input === 0 ? "act_size (the hook's width, not yet read from the model)" : `act_size ${input}`;
  return `input_size ${input}, output_size ${output}`;
}
/** V8's limit on one typed array's length; a larger tensor fails with a RangeError whatever the memory. */
const MAX_ARRAY_ELEMENTS = 2 ** 32;

/**
 * A lower bound on what training needs, from the config's shapes alone, so
 * that an impossible size fails in a second with a message instead of a
 * RangeError minutes later. Per SAE: W_enc and W_dec (act_size x dict_size
 * each) plus biases, as parameters, two Adam moments and a gradient; the
 * batch's feature activations (batch_size x dict_size) before and after
 * the activation function. Shared: the activation buffer
 * (num_batches_in_buffer x model_batch_size x seq_len rows of act_size, two
 * of them while the next fills), from the model or from an activation cache,
 * which is read into the same buffers.
 */
export function estimateTrainingMemory(config: RunConfig, members: readonly MemoryMember[]): TrainingMemoryEstimate {
  const widths = members.map(memberWidths);
  const parameters = members.reduce((sum, member, index) => sum + (widths[index].input + widths[index].output) * featuresOf(member) + widths[index].output + featuresOf(member), 0);
  const featureActivations = members.reduce((sum, member) => sum + member.batch_size * featuresOf(member), 0);
  // The store holds every stream once: an SAE's one hook, a transcoder's input and target.
  const streamWidth = Math.max(...widths.map(({ input, output, shared }) => (shared ? input : input + output)));
  const bufferRows = config.num_batches_in_buffer * config.model_batch_size * config.seq_len;
  const parts: MemoryPart[] = [
    {
      what: `parameters (${members.length > 1 ? `${members.length} decompositions, ` : ''}W_enc and W_dec, ${widthText(widths[0])} x dict_size ${featuresOf(config)} each)`,
      bytes: parameters * FLOAT32,
    },
    { what: 'Adam moments and gradients', bytes: 3 * parameters * FLOAT32 },
    { what: `feature activations (batch_size ${config.batch_size} x dict_size ${featuresOf(config)}, before and after the activation)`, bytes: 2 * featureActivations * FLOAT32 },
  ];
  if (bufferRows > 0) {
    // The store takes fewer model batches per buffer when they would exceed store_memory_mib.
    const bytes = Math.min(2 * bufferRows * streamWidth * FLOAT32, config.store_memory_mib * 2 ** 20);
    parts.push({
      what: `activation buffers (2 x num_batches_in_buffer ${config.num_batches_in_buffer} x model_batch_size ${config.model_batch_size} x seq_len ${config.seq_len} rows of ${streamWidth}, at most store_memory_mib ${config.store_memory_mib} MiB)`,
      bytes,
    });
  }
  const arrays = [
    {
      what: `W_enc (${widthText(widths[0])} x dict_size ${featuresOf(config)})`,
      elements: Math.max(...members.map((member, index) => Math.max(widths[index].input, widths[index].output) * featuresOf(member))),
    },
    { what: `the feature activations (batch_size ${config.batch_size} x dict_size ${featuresOf(config)})`, elements: Math.max(...members.map((member) => member.batch_size * featuresOf(member))) },
    { what: `the activation buffer (${bufferRows} rows x ${streamWidth})`, elements: bufferRows * streamWidth },
  ];
  return {
    bytes: parts.reduce((sum, part) => sum + part.bytes, 0),
    parts,
    largestArray: arrays.reduce((largest, array) => (array.elements > largest.elements ? array : largest)),
  };
}

/**
 * Throws ConfigError when the run cannot fit: its estimate exceeds the
 * machine's total memory, or one of its arrays exceeds what one typed array
 * can hold. Returns a warning when it exceeds the memory free right now
 * (other programs may free some), else undefined.
 */
export function checkTrainingMemory(config: RunConfig, members: readonly MemoryMember[], machine: MachineMemory = { total: totalmem(), free: freemem() }): string | undefined {
  const estimate = estimateTrainingMemory(config, members);
  const fix = 'Lower dict_size, batch_size or num_batches_in_buffer.';
  if (estimate.bytes > machine.total) {
    throw new ConfigError(
      `Invalid config: training needs at least ${formatBytes(estimate.bytes)} of memory (${estimate.parts.map((part) => `${part.what}: ${formatBytes(part.bytes)}`).join('; ')}), ` +
        `but this machine has ${formatBytes(machine.total)} (${formatBytes(machine.free)} free). ${fix}`,
    );
  }
  if (estimate.largestArray.elements > MAX_ARRAY_ELEMENTS) {
    throw new ConfigError(
      `Invalid config: ${estimate.largestArray.what} would be one array of ${estimate.largestArray.elements} values; one JavaScript typed array holds at most ${MAX_ARRAY_ELEMENTS}. ${fix}`,
    );
  }
  if (estimate.bytes > machine.free) {
    return `Warning: training needs at least ${formatBytes(estimate.bytes)} of memory, and ${formatBytes(machine.free)} of this machine's ${formatBytes(machine.total)} is free now; it may swap or be killed. ${fix}`;
  }
  return undefined;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
