import { createOnnxBackend } from '@nnd/backend-onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { mul, type Decomposition } from '@nnd/core';
import { collectDashboard } from './collect-dashboard.js';
import { logitEffectHooks } from './logit-effects.js';
import { DETECTED_TOKEN, DETECTOR_FEATURES, randomBatches, tinyModel, tokenDetector } from './token-detector.test-support.js';

const backend = createOnnxBackend();
const model = tinyModel(backend);
afterAll(async () => {
  await model.dispose();
});

describe('collectDashboard', () => {
  const batches = randomBatches(4, 8, 32, 1);
  const tokenCount = 4 * 8 * 32;

  it('shows the one token a feature fires on at the centre of every top example, with its exact density', async () => {
    const { decomposition, params, state } = tokenDetector(model);
    const data = await collectDashboard({ model, decomposition, params, state, batches, window: 4 });
    expect(data.featureCount).toBe(DETECTOR_FEATURES);
    expect(data.tokens).toBe(tokenCount);
    const detector = data.features[0]!;
    const sequencesWithToken = batches
      .flatMap((batch) => Array.from({ length: 8 }, (_, row) => [...batch.data.slice(row * 32, (row + 1) * 32)]))
      .filter((row) => row.includes(BigInt(DETECTED_TOKEN))).length;
    expect(sequencesWithToken).toBeGreaterThan(20);
    expect(detector.top).toHaveLength(20);
    for (const example of detector.top) {
      expect(example.tokens[example.maxIndex]).toBe(DETECTED_TOKEN);
      // Every other token of the window is silent.
      Array.from(example.values).forEach((value, index) => expect(value === 0).toBe(example.tokens[index] !== DETECTED_TOKEN));
    }
    const occurrences = batches.flatMap((batch) => [...batch.data]).filter((token) => Number(token) === DETECTED_TOKEN).length;
    expect(detector.firings).toBe(occurrences);
    expect(detector.density).toBeCloseTo(occurrences / tokenCount, 12);
    expect(detector.histogram.counts.reduce((sum, count) => sum + count, 0)).toBe(occurrences);
    expect(detector.quantiles.length).toBe(20);
    expect(detector.quantiles.every((example) => example.tokens[example.maxIndex] === DETECTED_TOKEN)).toBe(true);
  });

  it('keeps for each feature the sequences with the largest maxima, as computed on the host from the hook', async () => {
    const { decomposition, params, state } = tokenDetector(model);
    const data = await collectDashboard({ model, decomposition, params, state, batches, features: { start: 1, end: 4 }, window: 2, excludedTokenId: 0 });
    expect(data.features.map(({ feature }) => feature)).toEqual([1, 2, 3]);
    // The same values from the model's own cache and the weights, on the host.
    const width = model.config.hiddenSize;
    const weights = params.W_enc!.data as Float32Array;
    const maxima: { feature: number; sequence: number; value: number }[] = [];
    let sequence = 0;
    for (const batch of batches) {
      const embed = (await model.runWithCache(batch, { names: ['hook_embed'] })).cache.hook_embed!.data as Float32Array;
      const [rows, length] = batch.shape as [number, number];
      for (let row = 0; row < rows; row++, sequence++) {
        for (let feature = 1; feature < 4; feature++) {
          let best = 0;
          for (let position = 1; position < length; position++) {
            let value = 0;
            for (let index = 0; index < width; index++) value += embed[(row * length + position) * width + index]! * weights[index * DETECTOR_FEATURES + feature]!;
            best = Math.max(best, value);
          }
          if (best > 0) maxima.push({ feature, sequence, value: best });
        }
      }
    }
    expect(data.tokens).toBe(tokenCount - 4 * 8);
    for (const statistics of data.features) {
      const all = maxima.filter(({ feature }) => feature === statistics.feature);
      const expected = [...all].sort((a, b) => b.value - a.value).slice(0, 20);
      // hook_embed has no positions, so sequences tie on the same token: compare the values, and each kept sequence's own maximum.
      expect(statistics.top).toHaveLength(20);
      statistics.top.forEach((example, rank) => {
        expect(example.maxValue).toBeCloseTo(expected[rank]!.value, 4);
        expect(all.find(({ sequence: index }) => index === example.sequence)!.value).toBeCloseTo(example.maxValue, 4);
      });
      expect(statistics.top.every((example) => example.tokens.length <= 5 && example.start + example.maxIndex >= 1)).toBe(true);
    }
  });

  it("gives the tokens whose logits each feature's direction raises and lowers most, when it writes the residual stream", async () => {
    const { decomposition, params, state } = tokenDetector(model, { writes: 'blocks.1.hook_resid_pre' });
    const data = await collectDashboard({ model, decomposition, params, state, batches: batches.slice(0, 1), features: { start: 0, end: 4 }, logitTokens: 5 });
    const width = model.config.hiddenSize;
    const [decoder, scale, embedding] = [params.W_dec!.data, model.parameter('ln_final.w').data, model.parameter('embed.W_E').data] as Float32Array[];
    for (const { feature, logitEffects } of data.features) {
      const logits = Array.from({ length: model.config.vocabSize }, (_, token) => {
        let sum = 0;
        for (let index = 0; index < width; index++) sum += decoder![feature * width + index]! * scale![index]! * embedding![token * width + index]!;
        return { token, value: sum };
      });
      const byValue = [...logits].sort((a, b) => b.value - a.value);
      expect(logitEffects!.hook).toBe('blocks.1.hook_resid_pre');
      expect(logitEffects!.raised.map(({ token }) => token)).toEqual(byValue.slice(0, 5).map(({ token }) => token));
      expect(logitEffects!.lowered.map(({ token }) => token)).toEqual(
        byValue
          .slice(-5)
          .reverse()
          .map(({ token }) => token),
      );
      logitEffects!.raised.forEach(({ value }, rank) => expect(value).toBeCloseTo(byValue[rank]!.value, 4));
    }
    // The detector's direction is its token's embedding: it raises that token's logit most.
    expect(data.features[0]!.logitEffects!.raised[0]!.token).toBe(DETECTED_TOKEN);
    // hook_embed is not the residual stream as such: no logit effects there.
    const embedOnly = await collectDashboard({ model, ...tokenDetector(model), batches: batches.slice(0, 1) });
    expect(embedOnly.features[0]!.logitEffects).toBeUndefined();
  });

  it("sums a feature's directions over every MLP output it writes (a CLT feature's direct path to the logits)", async () => {
    const single = tokenDetector(model, { writes: 'blocks.1.hook_mlp_out' });
    const reference = await collectDashboard({ model, ...single, batches: batches.slice(0, 1), features: { start: 0, end: 4 }, logitTokens: 5 });
    // The same directions split 1/4 : 3/4 between the MLP outputs of layers 0 and 1.
    const hooks = ['blocks.0.hook_mlp_out', 'blocks.1.hook_mlp_out'];
    const split: Decomposition = {
      ...single.decomposition,
      writes: hooks.map((hook) => ({ hook, width: model.config.hiddenSize })),
      forward: (graph, batch, params, state) => {
        const output = single.decomposition.forward(graph, batch, params, state);
        const written = output.outputs['blocks.1.hook_mlp_out']!;
        return { ...output, outputs: { [hooks[0]!]: mul(written, 0.25), [hooks[1]!]: mul(written, 0.75) } };
      },
      decoderDirections: (_graph, params) => ({ [hooks[0]!]: mul(params.W_dec!, 0.25), [hooks[1]!]: mul(params.W_dec!, 0.75) }),
    };
    const summed = await collectDashboard({ model, ...single, decomposition: split, batches: batches.slice(0, 1), features: { start: 0, end: 4 }, logitTokens: 5 });
    for (const [index, feature] of summed.features.entries()) {
      const expected = reference.features[index]!.logitEffects!;
      expect(feature.logitEffects!.hook).toBe('blocks.0.hook_mlp_out + blocks.1.hook_mlp_out');
      expect(feature.logitEffects!.raised.map(({ token }) => token)).toEqual(expected.raised.map(({ token }) => token));
      expect(feature.logitEffects!.lowered.map(({ token }) => token)).toEqual(expected.lowered.map(({ token }) => token));
      feature.logitEffects!.raised.forEach(({ value }, rank) => expect(value).toBeCloseTo(expected.raised[rank]!.value, 4));
    }
    expect(logitEffectHooks(split)).toEqual(hooks);
  });

  it('refuses a feature range outside the decomposition', async () => {
    const { decomposition, params, state } = tokenDetector(model);
    await expect(collectDashboard({ model, decomposition, params, state, batches, features: { start: 4, end: 9 } })).rejects.toThrow(/not within the decomposition's 6 features/);
  });
});
