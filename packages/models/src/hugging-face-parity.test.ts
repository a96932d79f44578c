import { createOnnxBackend } from '@nnd/backend-onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FIXTURE_NAMES, HF_TINY, readReference, relativeError } from './fixtures.test-support.js';
import { hookName } from './hook-points.js';
import { HookedTransformer } from './hooked-transformer.js';

const backend = createOnnxBackend({ device: 'cpu' });
afterAll(() => backend.dispose());

describe('parity with Hugging Face transformers (hf-tiny fixtures, backend-onnx cpu)', () => {
  for (const fixture of FIXTURE_NAMES) {
    it(`${fixture}: logits, every hidden state and the loss match reference.json`, async () => {
      const reference = readReference(fixture);
      const model = await HookedTransformer.fromPretrained(join(HF_TINY, fixture), { backend });
      const layers = model.config.layerCount;
      // hidden_states[i] is blocks.i.hook_resid_pre for i < n_layer; the last is ln_final's output.
      const names = [...Array.from({ length: layers }, (_, layer) => hookName('resid_pre', layer)), hookName('ln_final')];
      const { logits, loss, cache } = await model.run(reference.input_ids, { names, returnType: 'both' });
      const errors = {
        logits: relativeError(logits!.data as Float32Array, reference.logits.flat(2)),
        hidden: names.map((name, index) => relativeError(cache[name].data as Float32Array, reference.hidden_states[index].flat(2))),
        loss: Math.abs(loss! - reference.loss),
      };
      console.log(`[parity] ${fixture}: logits ${errors.logits.toExponential(2)}, hidden states max ${Math.max(...errors.hidden).toExponential(2)}, |loss diff| ${errors.loss.toExponential(2)}`);
      expect(logits!.shape).toEqual([2, 16, model.config.vocabSize]);
      expect(errors.logits).toBeLessThan(1e-4);
      for (const error of errors.hidden) expect(error).toBeLessThan(1e-4);
      expect(errors.loss).toBeLessThan(1e-4);
      await model.dispose();
    });
  }
});
