import { abs, cast, div, greater, mul, mulDims, reduceSum, reshape, scatterElements, scatterND, shapeOf, ShapeError, sub, topk, zeros, type Dim, type KeptFeatures, type Tensor } from '@nnd/core';

/**
 * The activations a TopK-style SAE keeps, in sparse form.
 *
 * - `per-sample` (TopK): exactly k per sample; `values` and `features` are
 *   [batch, k].
 * - `flat` (BatchTopK): k * batch over the whole batch, so the count per
 *   sample varies; `values`, `samples` and `features` are [k * batch] and
 *   `flatIndices` = sample * dict_size + feature.
 *
 * Everything downstream (decoder, gradients, dead-feature sums) takes either
 * layout, so both SAEs share one fast path.
 */
export type KeptActivations =
  | {
      readonly layout: 'per-sample';
      readonly values: Tensor;
      readonly features: Tensor;
      /** [batch, dict_size] pre-activations the values were taken from. */
      readonly preactivations: Tensor;
    }
  | {
      readonly layout: 'flat';
      readonly values: Tensor;
      readonly features: Tensor;
      readonly samples: Tensor;
      readonly flatIndices: Tensor;
      readonly preactivations: Tensor;
    };

function staticWidth(preactivations: Tensor, where: string): number {
  const width = preactivations.shape[1];
  if (preactivations.rank !== 2 || typeof width !== 'number') {
    throw new ShapeError(`${where}: pre-activations must be [batch, dict_size] with a static dict_size, got ${preactivations}.`);
  }
  return width;
}

/** The k largest activations of each sample (ties go to the lower feature index, ONNX TopK's rule). */
export function keepTopKPerSample(preactivations: Tensor, k: number): KeptActivations {
  staticWidth(preactivations, 'TopK');
  const { values, indices } = topk(preactivations, k, { axis: -1 });
  return { layout: 'per-sample', values, features: indices, preactivations };
}

/**
 * The k * batch largest activations of the whole batch. The batch size is
 * read at run time (Shape), so one compiled program serves any batch size.
 */
export function keepTopKOfBatch(preactivations: Tensor, k: number): KeptActivations {
  const dictSize = staticWidth(preactivations, 'BatchTopK');
  const batch = preactivations.shape[0];
  const flat = reshape(preactivations, [-1]);
  const count = mul(shapeOf(preactivations, 0, 1), k);
  const { values, indices } = topk(flat, count, { axis: 0, kDim: mulDims(k, batch) });
  // int64 Div truncates, which is floor for these non-negative indices.
  const samples = div(indices, dictSize);
  const features = sub(indices, mul(samples, dictSize));
  return { layout: 'flat', values, features, samples, flatIndices: indices, preactivations };
}

/** The kept values scattered into a dense [batch, dict_size] tensor, zeros elsewhere. */
export function denseActivations(kept: KeptActivations): Tensor {
  const { preactivations, values } = kept;
  const graph = values.graph;
  if (kept.layout === 'per-sample') {
    return scatterElements(zeros(graph, preactivations.shape, values.dtype), kept.features, values, 1);
  }
  const flatShape: Dim[] = [mulDims(...preactivations.shape)];
  return reshape(scatterElements(zeros(graph, flatShape, values.dtype), kept.flatIndices, values, 0), preactivations.shape);
}

/** Sum over the batch of each feature's kept activations, [dict_size], without the dense tensor. */
export function keptFeatureTotals(kept: KeptActivations): Tensor {
  const dictSize = staticWidth(kept.preactivations, 'keptFeatureTotals');
  const { values } = kept;
  return scatterND(zeros(values.graph, [dictSize], values.dtype), reshape(kept.features, [-1, 1]), reshape(values, [-1]), 'add');
}

/** Mean over samples of sum |acts| and of count(acts > 0), from the kept values alone. */
export function keptNorms(kept: KeptActivations, batchSize: Tensor): { l1Norm: Tensor; l0Norm: Tensor } {
  const { values } = kept;
  return {
    l1Norm: div(reduceSum(abs(values)), batchSize),
    l0Norm: div(reduceSum(cast(greater(values, 0), values.dtype)), batchSize),
  };
}

/**
 * The contract's sparse featureActs (KeptFeatures) of a per-sample
 * selection: its k (feature, value) pairs per sample. A flat (BatchTopK)
 * selection keeps a varying count per sample, so it has none.
 */
export function keptPairs(kept: KeptActivations): KeptFeatures | undefined {
  return kept.layout === 'per-sample' ? { indices: kept.features, values: kept.values } : undefined;
}

/** Kept pairs of [samples, k] reshaped to [...leading, k], as inference reshapes featureActs. */
export function keptPairsShaped(kept: KeptFeatures, leading: readonly Dim[]): KeptFeatures {
  const k = kept.indices.shape.at(-1)!;
  return { indices: reshape(kept.indices, [...leading, k]), values: reshape(kept.values, [...leading, k]) };
}
