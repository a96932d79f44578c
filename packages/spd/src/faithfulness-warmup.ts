import type { HostTensor } from '@nnd/core';

export interface WarmupSettings {
  readonly steps: number;
  readonly lr: number;
  readonly weightDecay: number;
}

/** torch.optim.AdamW's defaults, which spd's warm-up keeps. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/**
 * spd's faithfulness warm-up: before training, `steps` of AdamW on V and U
 * alone minimising the faithfulness loss sum ||W - VU||^2 / (total weights),
 * so that training starts with VU close to W (and the delta component
 * small). Runs on the host in float64 (a few matrix products per step);
 * returns new V and U per module, leaving the inputs unchanged.
 * `updatesPerStep` 2 is a tied pair's source: spd's warm-up holds two
 * Parameters on the shared storage whose gradients are equal (the target's
 * matrix being the source's transpose), so AdamW applies the same update,
 * weight decay included, twice per step.
 */
export function faithfulnessWarmup(
  matrices: readonly { readonly W: HostTensor; readonly V: HostTensor; readonly U: HostTensor; readonly updatesPerStep?: number }[],
  settings: WarmupSettings,
): { V: HostTensor; U: HostTensor }[] {
  const total = matrices.reduce((sum, { W }) => sum + W.data.length, 0);
  const state = matrices.map(({ V, U }) => ({
    V: Float64Array.from(V.data as Float32Array),
    U: Float64Array.from(U.data as Float32Array),
    mV: new Float64Array(V.data.length),
    vV: new Float64Array(V.data.length),
    mU: new Float64Array(U.data.length),
    vU: new Float64Array(U.data.length),
  }));
  for (let step = 1; step <= settings.steps; step++) {
    matrices.forEach(({ W }, index) => {
      const [dIn, dOut] = W.shape;
      const C = matrices[index].V.shape[1];
      const own = state[index];
      // delta = W - V U, then dL/dV = -2/N delta U^T and dL/dU = -2/N V^T delta.
      const delta = new Float64Array(dIn * dOut);
      for (let i = 0; i < dIn; i++) {
        for (let o = 0; o < dOut; o++) delta[i * dOut + o] = Number(W.data[i * dOut + o]);
        for (let c = 0; c < C; c++) {
          const v = own.V[i * C + c];
          if (v === 0) continue;
          for (let o = 0; o < dOut; o++) delta[i * dOut + o] -= v * own.U[c * dOut + o];
        }
      }
      const scale = -2 / total;
      const gradV = new Float64Array(dIn * C);
      const gradU = new Float64Array(C * dOut);
      for (let i = 0; i < dIn; i++) {
        for (let c = 0; c < C; c++) {
          let sum = 0;
          for (let o = 0; o < dOut; o++) sum += delta[i * dOut + o] * own.U[c * dOut + o];
          gradV[i * C + c] = scale * sum;
        }
      }
      for (let i = 0; i < dIn; i++) {
        for (let c = 0; c < C; c++) {
          const v = scale * own.V[i * C + c];
          for (let o = 0; o < dOut; o++) gradU[c * dOut + o] += v * delta[i * dOut + o];
        }
      }
      const updates = matrices[index].updatesPerStep ?? 1;
      adamW(own.V, gradV, own.mV, own.vV, step, settings, updates);
      adamW(own.U, gradU, own.mU, own.vU, step, settings, updates);
    });
  }
  return state.map(({ V, U }, index) => ({
    V: { dtype: 'float32', shape: [...matrices[index].V.shape], data: Float32Array.from(V) },
    U: { dtype: 'float32', shape: [...matrices[index].U.shape], data: Float32Array.from(U) },
  }));
}

/** torch.optim.AdamW's step: decoupled decay p *= 1 - lr wd, then Adam with bias corrections; `updates` times with the same moments. */
function adamW(param: Float64Array, gradient: Float64Array, m: Float64Array, v: Float64Array, step: number, { lr, weightDecay }: WarmupSettings, updates: number): void {
  const c1 = 1 - BETA1 ** step;
  const c2 = 1 - BETA2 ** step;
  for (let i = 0; i < param.length; i++) {
    m[i] = BETA1 * m[i] + (1 - BETA1) * gradient[i];
    v[i] = BETA2 * v[i] + (1 - BETA2) * gradient[i] * gradient[i];
    const update = ((lr / c1) * m[i]) / (Math.sqrt(v[i] / c2) + EPSILON);
    for (let copy = 0; copy < updates; copy++) param[i] = param[i] * (1 - lr * weightDecay) - update;
  }
}
