import { ConfigError, Graph, ShapeError, formatShape, type Backend, type DeviceTensor, type HostTensor, type Program, type Tensor } from '@nnd/core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { architectureFor } from './architectures/index.js';
import type { FloatTensor } from './host-tensors.js';
import { hookPointNames } from './hook-points.js';
import { resolveModelDirectory, type HubOptions } from './hub-download.js';
import { HuggingFaceConfig } from './hugging-face-config.js';
import { parameterShapes } from './parameter-shapes.js';
import { ROTARY_COS, ROTARY_SIN, rotaryTables } from './rotary.js';
import { concatHostRows, sliceRows, toTokenTensor, type TokenInput } from './token-batches.js';
import { Tokenizer, type ToTokensOptions } from './tokenizer.js';
import { buildTransformerGraph, planForward, type ForwardOptions, type ForwardResult, type HookReplacement, type ReturnType } from './transformer-graph.js';
import type { TransformerConfig } from './transformer-config.js';
import { openWeights } from './weight-files.js';

export interface HookedTransformerOptions {
  backend: Backend;
  /** Rows of tokens per program run in runWithCache, runWithHooks and loss (default 8). */
  modelBatchSize?: number;
  tokenizer?: Tokenizer;
}

export interface FromPretrainedOptions extends HookedTransformerOptions, HubOptions {}

export interface RunOptions {
  /** Hook values to return, by name. */
  names?: readonly string[];
  stopAtLayer?: number;
  replace?: Readonly<Record<string, HookReplacement>>;
  /** Values for hooks replaced by 'input', [batch, ...] like the hook; split into batches with the tokens. */
  inputs?: Readonly<Record<string, HostTensor>>;
  returnType?: ReturnType;
}

export interface RunResult {
  logits?: HostTensor;
  /** Mean next-token cross-entropy over all rows (each batch weighted by its rows). */
  loss?: number;
  /** Requested hook values, rows in input order. */
  cache: Record<string, HostTensor>;
}

/** The graph input name of the token ids in programs the model compiles. */
export const TOKENS_INPUT = 'tokens';
const HOOK_OUTPUT_PREFIX = 'hook/';

interface CompiledForward {
  program: Program;
  hookNames: string[];
}

/**
 * A decoder-only transformer (GPT-2, GPT-NeoX, Llama) whose forward pass is
 * an nnd IR graph with TransformerLens hook points (see hook-points.ts).
 *
 * Weights are graph inputs, not constants: uploaded once as DeviceTensors and
 * fed to every program, so compiled ONNX models stay small (no 500 MB of
 * initializers hashed and copied per option set), several programs share one
 * copy of the weights, and training can feed updated parameters.
 */
export class HookedTransformer {
  readonly config: TransformerConfig;
  readonly backend: Backend;
  /** Every hook point of this model, in forward order. */
  readonly hookNames: readonly string[];
  readonly tokenizer: Tokenizer | undefined;
  modelBatchSize: number;
  private readonly weights: Map<string, HostTensor>;
  private readonly deviceWeights = new Map<string, Promise<DeviceTensor>>();
  private readonly programs = new Map<string, Promise<CompiledForward>>();
  private readonly replacementIds = new WeakMap<object, number>();
  private nextReplacementId = 0;

  constructor(config: TransformerConfig, weights: ReadonlyMap<string, FloatTensor>, options: HookedTransformerOptions) {
    this.config = config;
    this.backend = options.backend;
    this.tokenizer = options.tokenizer;
    this.modelBatchSize = options.modelBatchSize ?? 8;
    if (!Number.isInteger(this.modelBatchSize) || this.modelBatchSize < 1) {
      throw new ConfigError(`modelBatchSize must be a positive integer, got ${this.modelBatchSize}.`);
    }
    const expected = parameterShapes(config);
    const problems: string[] = [];
    for (const [name, shape] of expected) {
      const tensor = weights.get(name);
      if (!tensor) problems.push(`'${name}' is missing`);
      else if (tensor.shape.length !== shape.length || tensor.shape.some((dim, i) => dim !== shape[i])) {
        problems.push(`'${name}' is ${formatShape(tensor.shape)}, expected ${formatShape(shape)}`);
      }
    }
    for (const name of weights.keys()) if (!expected.has(name)) problems.push(`'${name}' is not a parameter of this config`);
    if (problems.length > 0)
      throw new ShapeError(`HookedTransformer: weights do not match the config: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}.`);
    this.weights = new Map(weights);
    if (config.positional === 'rotary') {
      const { cos, sin } = rotaryTables(config);
      this.weights.set(ROTARY_COS, cos);
      this.weights.set(ROTARY_SIN, sin);
    }
    this.hookNames = hookPointNames(config);
  }

  /**
   * Loads `config.json` and safetensors weights (single file or sharded) from
   * a directory, or a hub id (`gpt2`, `EleutherAI/pythia-70m`) through the
   * local cache, downloading when online. The tokenizer is loaded when the
   * directory has a tokenizer.json.
   */
  static async fromPretrained(nameOrDirectory: string, options: FromPretrainedOptions): Promise<HookedTransformer> {
    const directory = await resolveModelDirectory(nameOrDirectory, options);
    const configPath = join(directory, 'config.json');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(configPath, 'utf8'));
    } catch (cause) {
      throw new ConfigError(`Cannot read ${configPath}: ${(cause as Error).message}`, { cause });
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${configPath} is not a JSON object.`);
    const source = new HuggingFaceConfig(raw as Record<string, unknown>, configPath);
    const architecture = architectureFor(source.modelType, configPath);
    const config = architecture.config(source);
    const reader = await openWeights(directory);
    let weights: Map<string, FloatTensor>;
    try {
      weights = await architecture.convert(reader, config);
    } finally {
      await reader.close();
    }
    let tokenizer = options.tokenizer;
    if (
      !tokenizer &&
      (await readFile(join(directory, 'tokenizer.json')).then(
        () => true,
        () => false,
      ))
    ) {
      tokenizer = await Tokenizer.fromDirectory(directory, { bosTokenId: config.bosTokenId, eosTokenId: config.eosTokenId });
    }
    return new HookedTransformer(config, weights, { ...options, tokenizer });
  }

  /** The host copy of a parameter (standard name, see parameterShapes). */
  parameter(name: string): HostTensor {
    const tensor = this.weights.get(name);
    if (!tensor) throw new ConfigError(`No parameter '${name}'; this model has: ${[...this.weights.keys()].slice(0, 6).join(', ')}, ...`);
    return tensor;
  }

  get parameterNames(): string[] {
    return [...this.weights.keys()];
  }

  /**
   * Appends the forward pass to `graph` (see buildTransformerGraph); weights
   * become graph inputs named by parameter name, fed by `parameterFeeds`.
   */
  buildGraph(graph: Graph, tokens: Tensor, options: ForwardOptions = {}): ForwardResult {
    return buildTransformerGraph(graph, tokens, this.config, options);
  }

  /** Device copies of the weights a program reads (uploaded once, then shared); names that are not parameters are skipped. */
  async parameterFeeds(names: readonly string[]): Promise<Record<string, DeviceTensor>> {
    const feeds: Record<string, DeviceTensor> = {};
    for (const name of names) {
      const host = this.weights.get(name);
      if (!host) continue;
      let device = this.deviceWeights.get(name);
      if (!device) {
        device = this.backend.upload(host);
        this.deviceWeights.set(name, device);
      }
      feeds[name] = await device;
    }
    return feeds;
  }

  toTokens(input: string | readonly string[], options: ToTokensOptions = {}): HostTensor<'int64'> {
    if (!this.tokenizer) throw new ConfigError('toTokens: this model has no tokenizer; load it from a directory with tokenizer.json or pass options.tokenizer.');
    return this.tokenizer.toTokens(input, { maxLength: this.config.contextLength, ...options });
  }

  /** Runs the model on [batch, seq] tokens in batches of modelBatchSize rows. */
  async run(tokens: TokenInput, options: RunOptions = {}): Promise<RunResult> {
    const ids = toTokenTensor(tokens, this.config.vocabSize);
    const [rows, length] = ids.shape;
    if (length > this.config.contextLength) {
      throw new ShapeError(`Sequences of ${length} tokens exceed the model's context of ${this.config.contextLength}; truncate them.`);
    }
    if (options.returnType === 'loss' || options.returnType === 'both') {
      if (length < 2) throw new ShapeError('The loss needs sequences of at least 2 tokens.');
    }
    for (const [name, replacement] of Object.entries(options.replace ?? {})) {
      const value = options.inputs?.[name];
      if (replacement === 'input' && value === undefined) {
        throw new ConfigError(`Hook '${name}' is replaced by 'input'; pass its values in options.inputs['${name}'].`);
      }
      if (value && value.shape[0] !== rows) throw new ShapeError(`options.inputs['${name}'] has ${value.shape[0]} rows; the tokens have ${rows}.`);
    }
    const forward: ForwardOptions = { outputs: options.names, stopAtLayer: options.stopAtLayer, replace: options.replace, returnType: options.returnType };
    const { program, hookNames } = await this.compile(forward);
    const weights = await this.parameterFeeds(program.inputNames);
    const collected = new Map<string, HostTensor[]>();
    let lossSum = 0;
    for (let start = 0; start < rows; start += this.modelBatchSize) {
      const end = Math.min(rows, start + this.modelBatchSize);
      const feeds: Record<string, HostTensor | DeviceTensor> = { ...weights, [TOKENS_INPUT]: sliceRows(ids, start, end) };
      for (const name of program.inputNames) {
        const value = options.inputs?.[name];
        if (value) feeds[name] = sliceRows(value, start, end);
      }
      const outputs = await program.run(feeds);
      for (const [name, tensor] of Object.entries(outputs)) {
        const host = await tensor.toHost();
        tensor.dispose();
        if (name === 'loss') lossSum += Number(host.data[0]) * (end - start);
        else collected.set(name, [...(collected.get(name) ?? []), host]);
      }
    }
    const result: RunResult = { cache: {} };
    for (const name of hookNames) result.cache[name] = concatHostRows(collected.get(HOOK_OUTPUT_PREFIX + name)!);
    if (collected.has('logits')) result.logits = concatHostRows(collected.get('logits')!);
    if (program.outputNames.includes('loss')) result.loss = lossSum / rows;
    return result;
  }

  /**
   * TransformerLens' run_with_cache: logits (unless stopAtLayer) and the
   * values of `names` (default: every hook the run reaches).
   */
  async runWithCache(tokens: TokenInput, options: { names?: readonly string[]; stopAtLayer?: number; returnType?: ReturnType } = {}): Promise<RunResult> {
    let names = options.names;
    if (!names) {
      const stop = options.stopAtLayer ?? this.config.layerCount;
      names = this.hookNames.filter((name) => {
        const match = /^blocks\.(\d+)\./.exec(name);
        if (match) return Number(match[1]) < stop;
        return !name.startsWith('ln_final') || stop === this.config.layerCount;
      });
    }
    return this.run(tokens, { names, stopAtLayer: options.stopAtLayer, returnType: options.returnType });
  }

  /** TransformerLens' run_with_hooks, with replacements instead of mutating hook functions. */
  async runWithHooks(
    tokens: TokenInput,
    options: { replace: Readonly<Record<string, HookReplacement>>; inputs?: Readonly<Record<string, HostTensor>>; names?: readonly string[]; returnType?: ReturnType },
  ): Promise<RunResult> {
    return this.run(tokens, options);
  }

  /** Mean next-token cross-entropy (nats) over all rows. */
  async loss(tokens: TokenInput, options: { replace?: Readonly<Record<string, HookReplacement>>; inputs?: Readonly<Record<string, HostTensor>> } = {}): Promise<number> {
    return (await this.run(tokens, { ...options, returnType: 'loss' })).loss!;
  }

  /** A compiled program for these options, cached per option set (replacement functions by identity). */
  async compile(options: ForwardOptions): Promise<CompiledForward> {
    const { stop, returnType } = planForward(this.config, options, new Set(this.hookNames));
    const replacements = Object.entries(options.replace ?? {})
      .map(([name, replacement]) => [name, replacement === 'input' ? 'input' : this.replacementId(replacement)] as const)
      .sort(([a], [b]) => a.localeCompare(b));
    const hookNames = [...new Set(options.outputs ?? [])];
    const key = JSON.stringify({ stop, returnType, outputs: [...hookNames].sort(), replacements });
    let compiled = this.programs.get(key);
    if (!compiled) {
      compiled = (async () => {
        const graph = new Graph();
        const tokens = graph.input(TOKENS_INPUT, ['batch', 'seq'], 'int64');
        const result = this.buildGraph(graph, tokens, { ...options, stopAtLayer: stop < this.config.layerCount ? stop : options.stopAtLayer, returnType });
        const outputs: Record<string, Tensor> = {};
        for (const name of hookNames) outputs[HOOK_OUTPUT_PREFIX + name] = result.hooks[name];
        if (result.logits) outputs.logits = result.logits;
        if (result.loss) outputs.loss = result.loss;
        if (Object.keys(outputs).length === 0) outputs.residual = result.residual;
        const program = await this.backend.compile(graph, { outputs, hostOutputs: Object.keys(outputs) });
        return { program, hookNames };
      })();
      this.programs.set(key, compiled);
      compiled.catch(() => this.programs.delete(key));
    }
    return compiled;
  }

  private replacementId(replacement: object): number {
    let id = this.replacementIds.get(replacement);
    if (id === undefined) {
      id = this.nextReplacementId++;
      this.replacementIds.set(replacement, id);
    }
    return id;
  }

  /** Releases compiled programs and device copies of the weights. */
  async dispose(): Promise<void> {
    const programs = [...this.programs.values()];
    this.programs.clear();
    await Promise.all(programs.map(async (compiled) => (await compiled.catch(() => undefined))?.program.dispose()));
    const devices = [...this.deviceWeights.values()];
    this.deviceWeights.clear();
    for (const device of devices) (await device.catch(() => undefined))?.dispose();
  }
}
