import { ConfigError } from './errors/config-error.js';

/** Serialisable RNG state, stored in checkpoints so a resumed run draws the same numbers. */
export interface RngState {
  readonly algorithm: 'xoshiro128**';
  readonly words: readonly [number, number, number, number];
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A seeded generator (xoshiro128**). Initialisation draws happen in JS, not
 * in a backend, so parameters are identical whatever backend runs them.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | RngState) {
    if (typeof seed === 'number') {
      if (!Number.isSafeInteger(seed)) throw new ConfigError(`Rng: seed must be an integer, got ${seed}.`);
      const next = splitmix32(seed ^ Math.floor(seed / 2 ** 32));
      this.s0 = next();
      this.s1 = next();
      this.s2 = next();
      this.s3 = next();
    } else {
      if (seed.algorithm !== 'xoshiro128**' || seed.words.length !== 4) {
        throw new ConfigError(`Rng: cannot restore state of algorithm '${seed.algorithm}'; expected 'xoshiro128**' with 4 words.`);
      }
      [this.s0, this.s1, this.s2, this.s3] = seed.words.map((word) => word >>> 0);
    }
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  state(): RngState {
    return { algorithm: 'xoshiro128**', words: [this.s0, this.s1, this.s2, this.s3] };
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  uniform(size: number, low = 0, high = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = low + (high - low) * this.next();
    return out;
  }

  /**
   * `size` draws from U[0, 1) with 24 random bits each (one 32-bit output per
   * value, what float32 holds): the per-step random tensors of a training
   * step, where millions are drawn each step. Same generator and state as
   * the other draws, in a loop with the state in locals (several times
   * faster than `uniform`).
   */
  uniformFloat32(size: number): Float32Array {
    const out = new Float32Array(size);
    let s0 = this.s0,
      s1 = this.s1,
      s2 = this.s2,
      s3 = this.s3;
    for (let i = 0; i < size; i++) {
      const rotated = (Math.imul(s1, 5) << 7) | (Math.imul(s1, 5) >>> 25);
      const result = Math.imul(rotated, 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = (result >>> 8) * 5.9604644775390625e-8;
    }
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    return out;
  }

  /** Standard normal draws (Box-Muller), times `std` plus `mean`. */
  normal(size: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i += 2) {
      const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
      const angle = 2 * Math.PI * this.next();
      out[i] = mean + std * radius * Math.cos(angle);
      if (i + 1 < size) out[i + 1] = mean + std * radius * Math.sin(angle);
    }
    return out;
  }

  /**
   * PyTorch's `kaiming_uniform_` with its defaults (a = 0, mode 'fan_in',
   * nonlinearity 'leaky_relu'): U(-b, b) with b = sqrt(6 / fan_in), where
   * fan_in is the size of dim 1 for a 2-D tensor (times the receptive field
   * for higher ranks), as `torch.nn.init._calculate_fan_in_and_fan_out`.
   */
  kaimingUniform(shape: readonly number[]): Float32Array {
    if (shape.length < 2) throw new ConfigError(`kaimingUniform: needs a tensor of rank >= 2, got [${shape.join(', ')}] (PyTorch raises here too).`);
    const receptiveField = shape.slice(2).reduce((product, dim) => product * dim, 1);
    const fanIn = shape[1] * receptiveField;
    const bound = Math.sqrt(6 / fanIn);
    const size = shape.reduce((product, dim) => product * dim, 1);
    return this.uniform(size, -bound, bound);
  }

  /** Fisher-Yates permutation of [0, n). */
  permutation(n: number): Uint32Array {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const swap = out[i];
      out[i] = out[j];
      out[j] = swap;
    }
    return out;
  }
}

function rotl(value: number, shift: number): number {
  return ((value << shift) | (value >>> (32 - shift))) >>> 0;
}
