import { describe, it, expect } from 'vitest';
import { SafetensorsError } from '../errors/safetensors-error.js';
import { serializeSafetensors } from './serialize-safetensors.js';
import { fromTypedArray } from './tensor.js';

describe('serializeSafetensors', () => {
  it('sorts tensors by name, writes compact JSON and pads the header with spaces to 8 bytes', () => {
    const file = serializeSafetensors(
      {
        b: fromTypedArray('U8', [1], new Uint8Array([7])),
        a: fromTypedArray('F16', [1], new Float32Array([1])),
        '10': fromTypedArray('BOOL', [1], new Uint8Array([1])),
      },
      { k: 'v' },
    );
    const headerLength = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = new TextDecoder().decode(file.subarray(8, 8 + headerLength));
    expect(header.trimEnd()).toBe(
      '{"__metadata__":{"k":"v"},' +
        '"10":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]},' +
        '"a":{"dtype":"F16","shape":[1],"data_offsets":[1,3]},' +
        '"b":{"dtype":"U8","shape":[1],"data_offsets":[3,4]}}',
    );
    expect(header.slice(header.trimEnd().length)).toMatch(/^ {0,7}$/);
    expect([...file.subarray(8 + headerLength)]).toEqual([0x01, 0x00, 0x3c, 0x07]);
  });

  it('rejects the reserved name __metadata__', () => {
    const tensor = fromTypedArray('U8', [1], new Uint8Array([1]));
    expect(() => serializeSafetensors({ __metadata__: tensor })).toThrow(SafetensorsError);
    expect(() => serializeSafetensors(new Map([['__metadata__', tensor]]))).toThrow(/"__metadata__" is reserved/);
  });

  it('rejects non-string metadata values', () => {
    expect(() => serializeSafetensors({}, { epoch: 3 } as unknown as Record<string, string>)).toThrow(/metadata entry "epoch" is a number/);
  });

  it('rejects a tensor whose data length does not match its shape', () => {
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Uint8Array(8) } })).toThrow(/tensor "w": shape \[3\] with dtype F32 needs 12 bytes of data but data is 8 bytes/);
  });
});
