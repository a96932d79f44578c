import { UnsupportedOpError, dimFactors, type Dim, type HostTensor, type Node, type Tensor } from '@nnd/core';
import onnxProto from 'onnx-proto';
import { onnxDataType } from './onnx-dtype.js';

const { onnx } = onnxProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;
const { AttributeType } = onnx.AttributeProto;

// ONNX attributes carry a type tag that a JS number cannot express (1 vs 1.0).
export const intAttribute = (name: string, value: number | boolean): AttributeProto => ({ name, type: AttributeType.INT, i: Number(value) });
export const floatAttribute = (name: string, value: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f: value });
export const intsAttribute = (name: string, values: readonly number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: [...values] });
export const stringAttribute = (name: string, value: string): AttributeProto => ({
  name,
  type: AttributeType.STRING,
  s: new TextEncoder().encode(value),
});

/** A TensorProto holding a host tensor's bytes as raw data: ONNX wants little-endian, the byte order of every platform onnxruntime-node ships for. */
function tensorProto(name: string, value: HostTensor): onnxProto.onnx.ITensorProto {
  const { buffer, byteOffset, byteLength } = value.data;
  return { name, dataType: onnxDataType(value.dtype), dims: [...value.shape], rawData: new Uint8Array(buffer, byteOffset, byteLength) };
}

const INT64_MAX = 2n ** 63n - 1n;

/** Clamps to int64, so open slice ends (Infinity, 2^63) mean "to the end" as in ONNX. */
function toInt64(value: number): bigint {
  if (value >= 2 ** 63) return INT64_MAX;
  if (value <= -(2 ** 63)) return -INT64_MAX - 1n;
  return BigInt(Math.trunc(value));
}

export type SymbolSources = ReadonlyMap<string, { tensor: Tensor; axis: number }>;

/**
 * Accumulates the nodes and initializers of one ONNX graph, and builds the
 * int64 tensors that ONNX takes as inputs where the IR has attributes
 * (Reshape's shape, Slice's bounds): initializers when static, small Shape /
 * Mul / Concat subgraphs when they name symbolic dimensions.
 */
export class OnnxGraphWriter {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly constants = new Map<string, string>();
  private readonly symbolicDims = new Map<string, string>();
  private readonly nodeNames = new Set<string>();
  private helperCount = 0;

  /** `prefix` starts every generated value name; the compiler picks one that no user-given name starts with. */
  constructor(
    private readonly prefix: string,
    private readonly symbols: SymbolSources,
    private readonly valueName: (tensor: Tensor) => string,
  ) {}

  /** Appends an ONNX node named after the IR node, so onnxruntime errors can be traced back to it. */
  add(opType: string, inputs: readonly string[], outputs: readonly string[], owner: Node, attribute: AttributeProto[] = []): void {
    const base = `${owner.op}_${owner.id}`;
    const name = this.nodeNames.has(base) ? `${base}/${this.nodes.length}` : base;
    this.nodeNames.add(name);
    this.nodes.push({ opType, input: [...inputs], output: [...outputs], name, attribute });
  }

  initializer(name: string, value: HostTensor): void {
    this.initializers.push(tensorProto(name, value));
  }

  /** A fresh value name for a helper computed on behalf of `owner`. */
  helperName(owner: Node): string {
    return `${this.prefix}${owner.id}_${this.helperCount++}`;
  }

  /** A shared int64 initializer (1-D by default; `shape` [] for scalars). */
  int64Constant(values: readonly number[], owner: Node, shape: readonly number[] = [values.length]): string {
    const key = `${shape.join(',')}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (name === undefined) {
      name = this.helperName(owner);
      this.initializer(name, { dtype: 'int64', shape, data: BigInt64Array.from(values, toInt64) });
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 1-D tensor holding `dims`; symbolic entries are evaluated at run time. */
  dimsTensor(dims: readonly Dim[], owner: Node): string {
    if (dims.every((dim) => typeof dim === 'number')) return this.int64Constant(dims as number[], owner);
    const parts = dims.map((dim) => (typeof dim === 'number' ? this.int64Constant([dim], owner) : this.symbolicDim(dim, owner)));
    if (parts.length === 1) return parts[0];
    const output = this.helperName(owner);
    this.add('Concat', parts, [output], owner, [intAttribute('axis', 0)]);
    return output;
  }

  /**
   * An int64 [1] tensor holding one symbolic dimension: read with Shape from
   * the first tensor carrying it whole, else multiplied from its factors
   * ('2*batch*seq'). Cached, since ONNX values outlive the node that needed them.
   */
  private symbolicDim(dim: string, owner: Node): string {
    const cached = this.symbolicDims.get(dim);
    if (cached !== undefined) return cached;
    let value = this.readDim(dim, owner);
    if (value === undefined) {
      const { coefficient, symbols } = dimFactors(dim);
      if (symbols.length + (coefficient === 1 ? 0 : 1) < 2) {
        throw new UnsupportedOpError(
          `${owner.op} (node ${owner.id}): no tensor computed before this node has the symbolic dimension '${dim}', so its size cannot be read at run time. ` +
            'Use a dimension that a graph input or an earlier tensor carries, or a static size.',
        );
      }
      const factors = symbols.map((symbol) => this.symbolicDim(symbol, owner));
      if (coefficient !== 1) factors.unshift(this.int64Constant([coefficient], owner));
      value = factors.reduce((product, factor) => {
        const output = this.helperName(owner);
        this.add('Mul', [product, factor], [output], owner);
        return output;
      });
    }
    this.symbolicDims.set(dim, value);
    return value;
  }

  private readDim(dim: string, owner: Node): string | undefined {
    const source = this.symbols.get(dim);
    // Graph inputs exist from the start; any other carrier must be scheduled before the node that reads it.
    if (source === undefined || (source.tensor.node.op !== 'Input' && source.tensor.node.id >= owner.id)) return undefined;
    const output = this.helperName(owner);
    this.add('Shape', [this.valueName(source.tensor)], [output], owner, [intAttribute('start', source.axis), intAttribute('end', source.axis + 1)]);
    return output;
  }
}
