import { DTypeError, type DType } from '@nnd/core';
import onnxProto from 'onnx-proto';

const { DataType } = onnxProto.onnx.TensorProto;

const ONNX_DATA_TYPES: Record<DType, number> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  int64: DataType.INT64,
  bool: DataType.BOOL,
};

/** The ONNX TensorProto.DataType of an IR dtype. */
export function onnxDataType(dtype: DType): number {
  const dataType = ONNX_DATA_TYPES[dtype];
  if (dataType === undefined) throw new DTypeError(`ONNX export: unknown dtype '${String(dtype)}'.`);
  return dataType;
}
