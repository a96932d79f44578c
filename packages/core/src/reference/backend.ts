import type { HostTensor } from '../dtype.js';
import { DTYPES } from '../dtype.js';
import type { Backend, CompileOptions, DeviceTensor, Feed, Program } from '../backend.js';
import { isDeviceTensor } from '../backend.js';
import { BackendError } from '../errors/backend-error.js';
import { GraphError } from '../errors/graph-error.js';
import type { Graph } from '../graph.js';
import { executePlan, planEvaluation } from './evaluate.js';

/** A host tensor under the DeviceTensor contract; the reference backend has no device memory. */
class ReferenceDeviceTensor implements DeviceTensor {
  readonly location = 'cpu';
  private disposed = false;

  constructor(private readonly host: HostTensor) {}

  get dtype() {
    return this.host.dtype;
  }

  get shape() {
    return this.host.shape;
  }

  async toHost(): Promise<HostTensor> {
    if (this.disposed) throw new BackendError('reference: this DeviceTensor was disposed; keep it alive while it is read or fed.');
    return this.host;
  }

  dispose(): void {
    this.disposed = true;
  }
}

async function compile(graph: Graph, { outputs, hostOutputs = [] }: CompileOptions): Promise<Program> {
  const outputNames = Object.keys(outputs);
  for (const name of hostOutputs) {
    if (!(name in outputs)) throw new GraphError(`reference compile: hostOutputs names '${name}', which is not among the outputs ${outputNames.join(', ')}.`);
  }
  const tensors = outputNames.map((name) => outputs[name]);
  const plan = planEvaluation(graph, tensors, 'reference compile');
  let disposed = false;
  return {
    inputNames: plan.inputNames,
    outputNames,
    async run(feeds: Record<string, Feed>) {
      if (disposed) throw new BackendError('reference: run() called on a disposed program; compile the graph again.');
      const hostFeeds: Record<string, HostTensor> = {};
      for (const [name, feed] of Object.entries(feeds)) hostFeeds[name] = isDeviceTensor(feed) ? await feed.toHost() : feed;
      const results = executePlan(plan, tensors, hostFeeds, 'reference run');
      return Object.fromEntries(outputNames.map((name, i) => [name, new ReferenceDeviceTensor(results[i])]));
    },
    async dispose() {
      disposed = true;
    },
  };
}

/** The reference interpreter as a Backend: slow, float64 inside, the ground truth for other backends. */
export function createReferenceBackend(): Backend {
  return {
    specificationVersion: 'nnd-backend-v1',
    name: 'reference',
    capabilities: { dtypes: DTYPES, device: 'cpu', deviceResidentTensors: false },
    compile,
    async upload(tensor: HostTensor) {
      return new ReferenceDeviceTensor(tensor);
    },
    async dispose() {},
  };
}
