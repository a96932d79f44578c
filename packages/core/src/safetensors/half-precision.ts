// Conversions go through the float32 bit pattern so rounding, subnormals and
// NaN/Infinity follow IEEE 754 exactly rather than depending on float64 arithmetic.
const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

function float32Bits(value: number): number {
  scratchFloat[0] = value;
  return scratchBits[0];
}

/** Shifts `value` right by `shift` bits, rounding to nearest with ties to even. */
function shiftRightRoundingToEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const remainder = value - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  return remainder > half || (remainder === half && (kept & 1) === 1) ? kept + 1 : kept;
}

export function float32ToFloat16Bits(value: number): number {
  const bits = float32Bits(value);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    // Setting the quiet bit keeps a NaN a NaN even when its payload lives only in the dropped low bits.
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Below 2^-25 even round-to-nearest gives zero; the shift would also exceed the mantissa width.
    if (halfExponent < -10) return sign;
    return sign | shiftRightRoundingToEven(mantissa | 0x800000, 14 - halfExponent);
  }
  // A carry out of the mantissa correctly bumps the exponent, up to Infinity.
  return sign | ((halfExponent << 10) + shiftRightRoundingToEven(mantissa, 13));
}

export function float16BitsToFloat32Bits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal halves are normal floats: shift the leading one into the implicit bit.
  let normalized = mantissa;
  let floatExponent = 113;
  while ((normalized & 0x400) === 0) {
    normalized <<= 1;
    floatExponent -= 1;
  }
  return (sign | (floatExponent << 23) | ((normalized & 0x3ff) << 13)) >>> 0;
}

export function float32ToBFloat16Bits(value: number): number {
  const bits = float32Bits(value);
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return Math.floor((bits + 0x7fff + ((bits >>> 16) & 1)) / 0x10000);
}

export function bfloat16BitsToFloat32Bits(bfloat: number): number {
  return (bfloat << 16) >>> 0;
}
