#!/usr/bin/env node
// WebGPU probe for onnxruntime-node (Dawn, Vulkan backend; Mesa lavapipe on CPU-only machines).
//
//   node packages/backend-onnx/scripts/webgpu-probe.mjs           full report (about 15 s)
//   node packages/backend-onnx/scripts/webgpu-probe.mjs --quick   CI gate: exit 0 iff WebGPU really works
//   node packages/backend-onnx/scripts/webgpu-probe.mjs --json    full report + one JSON summary line at the end
//
// The full report runs each experiment in a child process of its own, because some
// of them abort the process natively (see the `getdata` case) and because the first
// WebGPU session of a process pays for Dawn/Vulkan start-up, which we want to time.
//
// What it found with onnxruntime-node 1.30.0 + Mesa 25.0.7 lavapipe (bookworm-backports), no env vars:
//  - WebGPU unavailable (no libvulkan.so.1 / no ICD): InferenceSession.create THROWS ("Failed to get a
//    WebGPU adapter: No supported adapters"), also with executionProviders ['webgpu', 'cpu']. No silent
//    fallback at session level.
//  - Ops without a WebGPU kernel (all int64 arithmetic, Sign, Or, LogSoftmax, Cast from int64, ...) DO fall
//    back to the CPU EP silently, per node. `extra: { session: { disable_cpu_ep_fallback: '1' } }` makes
//    create() throw instead; logSeverityLevel 0 prints the placement ("Node(s) placed on [...]").
//  - preferredOutputLocation 'gpu-buffer' -> tensor.location === 'gpu-buffer' (a CPU-EP session silently
//    ignores it and returns 'cpu'); such tensors can be fed back as inputs (chaining works, dispose() frees).
//  - tensor.getData() on a gpu-buffer tensor ABORTS the process (native "not implemented"); download by
//    feeding it to a WebGPU-EP session with a cpu output (see `download`).
//  - Feeding a gpu-buffer tensor to a CPU-EP session runs without error and returns garbage.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const require = createRequire(new URL('../package.json', import.meta.url));
const SCRIPT = fileURLToPath(import.meta.url);
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

let ortCache;
const ort = () => (ortCache ??= require('onnxruntime-node'));
const ortVersion = () => require('onnxruntime-node/package.json').version;

// ---------------------------------------------------------------------------
// Tiny ONNX model builder
// ---------------------------------------------------------------------------

const TYPE = {
  float32: { dt: DT.FLOAT, Arr: Float32Array },
  int64: { dt: DT.INT64, Arr: BigInt64Array },
  int32: { dt: DT.INT32, Arr: Int32Array },
  bool: { dt: DT.BOOL, Arr: Uint8Array },
};

/** A graph input/output. shape: array of numbers / strings (symbolic), or null for "any rank". */
const vi = (name, type, shape) => ({
  name,
  type: {
    tensorType: {
      elemType: TYPE[type].dt,
      ...(shape ? { shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } : {}),
    },
  },
});

const toTyped = (type, values) => (type === 'int64' ? BigInt64Array.from(values, (v) => BigInt(v)) : TYPE[type].Arr.from(values, (v) => (type === 'bool' ? Number(!!v) : v)));

/** An initializer (constant) stored as raw little-endian bytes. */
const init = (name, type, dims, values) => {
  const arr = toTyped(type, values);
  return { name, dataType: TYPE[type].dt, dims, rawData: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) };
};

const attr = (name, v) => {
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  if (Number.isInteger(v)) return { name, type: AT.INT, i: v };
  return { name, type: AT.FLOAT, f: v };
};

const node = (opType, input, output, attrs = {}) => ({
  opType,
  input,
  output,
  name: `${opType}_${output[0]}`,
  attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
});

function buildModel({ nodes, inputs, outputs, inits = [] }) {
  const model = onnx.ModelProto.fromObject({
    irVersion: 8,
    producerName: 'nnd-webgpu-probe',
    opsetImport: [{ domain: '', version: 18 }],
    graph: { name: 'probe', node: nodes, input: inputs, output: outputs, initializer: inits },
  });
  return onnx.ModelProto.encode(model).finish();
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const now = () => performance.now();
const ms = (t) => Math.round(t * 10) / 10;

/** Deterministic pseudo-random floats in [lo, hi). */
function rand(n, seed = 1, lo = -1, hi = 1) {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return lo + ((s % 100000) / 100000) * (hi - lo);
  });
}

function compare(a, b, tol = 1e-4) {
  if (a.length !== b.length) return { ok: false, why: `length ${a.length} vs ${b.length}` };
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] === 'bigint' || typeof b[i] === 'bigint') {
      if (BigInt(a[i]) !== BigInt(b[i])) return { ok: false, why: `[${i}] ${a[i]} vs ${b[i]}` };
      continue;
    }
    const x = Number(a[i]),
      y = Number(b[i]);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const d = Math.abs(x - y);
    maxDiff = Math.max(maxDiff, d);
    if (!(d <= tol * Math.max(1, Math.abs(y)))) return { ok: false, why: `[${i}] ${x} vs ${y}`, maxDiff };
  }
  return { ok: true, maxDiff };
}

/** ORT errors start with a long source location; keep the readable part. */
const shortError = (e) => {
  const m = String(e?.message ?? e).split('\n')[0];
  return (m.includes(' was false. ') ? m.slice(m.indexOf(' was false. ') + 12) : m).slice(0, 240);
};

const fmtArr = (a, n = 6) => `[${Array.from(a).slice(0, n).map(String).join(', ')}${a.length > n ? ', …' : ''}]`;

/** Session options that make session creation FAIL if any node would be assigned to the CPU EP. */
const NO_CPU_FALLBACK = { session: { disable_cpu_ep_fallback: '1' } };

async function createSession(bytes, opts) {
  const t0 = now();
  const session = await ort().InferenceSession.create(bytes, opts);
  return { session, createMs: now() - t0 };
}

// Identity models used to download gpu-buffer tensors (one per dtype), see `download`.
const downloaders = new Map();
/**
 * Copy a tensor to the CPU. NB: `tensor.getData()` on a 'gpu-buffer' tensor ABORTS the
 * process in onnxruntime-node 1.30 (native download is `NAPI_THROW("not implemented")`),
 * so instead feed it to an Identity session on the WebGPU EP whose output location is 'cpu'.
 */
async function download(tensor) {
  if (tensor.location === 'cpu') return tensor.data;
  let s = downloaders.get(tensor.type);
  if (!s) {
    const bytes = buildModel({
      nodes: [node('Identity', ['X'], ['Y'])],
      inputs: [vi('X', tensor.type, null)],
      outputs: [vi('Y', tensor.type, null)],
    });
    s = (await createSession(bytes, { executionProviders: ['webgpu'] })).session;
    downloaders.set(tensor.type, s);
  }
  const r = await s.run({ X: tensor });
  return r.Y.data;
}

// ---------------------------------------------------------------------------
// The affine model Y = MatMul(A, B) + C, opset 18
// ---------------------------------------------------------------------------

const N = 8;
const B_VALUES = rand(N * N, 7, -0.35, 0.35);
const C_VALUES = rand(N, 11, -0.1, 0.1);
const A0 = Float32Array.from(rand(N * N, 3));

function affineModel() {
  return buildModel({
    nodes: [node('MatMul', ['A', 'B'], ['AB']), node('Add', ['AB', 'C'], ['Y'])],
    inputs: [vi('A', 'float32', ['n', N])],
    outputs: [vi('Y', 'float32', ['n', N])],
    inits: [init('B', 'float32', [N, N], B_VALUES), init('C', 'float32', [N], C_VALUES)],
  });
}

/** Reference in plain JS (float64 accumulation). */
function affineRef(a) {
  const y = new Float32Array(N * N);
  for (let i = 0; i < N; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < N; k++) s += a[i * N + k] * B_VALUES[k * N + j];
      y[i * N + j] = s + C_VALUES[j];
    }
  return y;
}

// ---------------------------------------------------------------------------
// Child cases (each prints one `@@RESULT <json>` line on stdout)
// ---------------------------------------------------------------------------

const result = (obj) => process.stdout.write(`@@RESULT ${JSON.stringify(obj, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);

const cases = {
  /** Session creation timings, WebGPU vs CPU results. */
  async basic() {
    const bytes = affineModel();
    const out = {};
    const w1 = await createSession(bytes, { executionProviders: ['webgpu'] });
    out.webgpuCreateFirstMs = ms(w1.createMs);
    const w2 = await createSession(bytes, { executionProviders: ['webgpu'] });
    out.webgpuCreateSecondMs = ms(w2.createMs);
    const w3 = await createSession(bytes, { executionProviders: ['webgpu'], extra: NO_CPU_FALLBACK });
    out.webgpuCreateStrictMs = ms(w3.createMs);
    const c = await createSession(bytes, { executionProviders: ['cpu'] });
    out.cpuCreateMs = ms(c.createMs);

    const feeds = { A: new (ort().Tensor)('float32', A0, [N, N]) };
    let t0 = now();
    const rw = await w1.session.run(feeds);
    out.webgpuFirstRunMs = ms(now() - t0);
    t0 = now();
    for (let i = 0; i < 20; i++) await w1.session.run(feeds);
    out.webgpuRunMs = ms((now() - t0) / 20);
    t0 = now();
    const rc = await c.session.run(feeds);
    out.cpuRunMs = ms(now() - t0);
    const rs = await w3.session.run(feeds);

    out.webgpuOutputLocation = rw.Y.location;
    out.webgpuVsCpu = compare(rw.Y.data, rc.Y.data);
    out.webgpuVsJs = compare(rw.Y.data, affineRef(A0));
    out.strictVsCpu = compare(rs.Y.data, rc.Y.data);
    out.sample = { webgpu: fmtArr(rw.Y.data, 4), cpu: fmtArr(rc.Y.data, 4) };
    result(out);
  },

  /** preferredOutputLocation 'gpu-buffer': location, chaining 10 runs, disposing, downloading. */
  async chain() {
    const bytes = affineModel();
    const out = {};
    const { session } = await createSession(bytes, { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
    const cpu = (await createSession(bytes, { executionProviders: ['cpu'] })).session;
    const Tensor = ort().Tensor;

    let x = new Tensor('float32', A0, [N, N]);
    const locations = [];
    const t0 = now();
    for (let i = 0; i < 10; i++) {
      const { Y } = await session.run({ A: x });
      locations.push(Y.location);
      if (x.location === 'gpu-buffer') x.dispose(); // free the previous GPU buffer
      x = Y;
    }
    out.chainMs = ms(now() - t0);
    out.locations = [...new Set(locations)];
    out.finalTensor = { type: x.type, dims: x.dims, location: x.location, hasGpuBuffer: x.gpuBuffer !== undefined };

    let ref = A0;
    for (let i = 0; i < 10; i++) ref = (await cpu.run({ A: new Tensor('float32', ref, [N, N]) })).Y.data;
    let refJs = A0;
    for (let i = 0; i < 10; i++) refJs = affineRef(refJs);

    const t1 = now();
    const data = await download(x);
    out.downloadViaIdentitySessionMs = ms(now() - t1);
    out.chainVsCpu = compare(data, ref);
    out.chainVsJs = compare(data, refJs, 1e-3);
    out.sample = { webgpu: fmtArr(data, 4), cpu: fmtArr(ref, 4) };

    // Per-output location (object form) on the same model.
    const s2 = (await createSession(bytes, { executionProviders: ['webgpu'], preferredOutputLocation: { Y: 'gpu-buffer' } })).session;
    out.objectFormLocation = (await s2.run({ A: new Tensor('float32', A0, [N, N]) })).Y.location;

    // A CPU-EP session silently ignores preferredOutputLocation 'gpu-buffer'.
    const s3 = (await createSession(bytes, { executionProviders: ['cpu'], preferredOutputLocation: 'gpu-buffer' })).session;
    out.cpuSessionWithGpuBufferPreference = (await s3.run({ A: new Tensor('float32', A0, [N, N]) })).Y.location;

    // `.data` on a gpu-buffer tensor throws a (catchable) JS error.
    const { Y } = await session.run({ A: new Tensor('float32', A0, [N, N]) });
    try {
      void Y.data;
      out.dataGetterOnGpuTensor = 'no error';
    } catch (e) {
      out.dataGetterOnGpuTensor = `throws: ${e.message}`;
    }
    result(out);
  },

  /** tensor.getData() on a gpu-buffer tensor (expected: native abort). */
  async getdata() {
    const { session } = await createSession(affineModel(), { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
    const { Y } = await session.run({ A: new (ort().Tensor)('float32', A0, [N, N]) });
    process.stderr.write(`calling getData() on location=${Y.location}\n`);
    try {
      const d = await Y.getData();
      result({ ok: compare(d, affineRef(A0)).ok, sample: fmtArr(d, 4) });
    } catch (e) {
      result({ ok: false, error: e.message });
    }
  },

  /** Feed a gpu-buffer tensor from a WebGPU session to a CPU-EP session. */
  async cpufeed() {
    const bytes = affineModel();
    const { session } = await createSession(bytes, { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
    const cpu = (await createSession(bytes, { executionProviders: ['cpu'] })).session;
    const { Y } = await session.run({ A: new (ort().Tensor)('float32', A0, [N, N]) });
    try {
      const r = await cpu.run({ A: Y });
      const cmp = compare(r.Y.data, affineRef(affineRef(A0)), 1e-3);
      result({ ran: true, ok: cmp.ok, why: cmp.why, outLocation: r.Y.location, sample: fmtArr(r.Y.data, 4), expected: fmtArr(affineRef(affineRef(A0)), 4) });
    } catch (e) {
      result({ ok: false, error: e.message.split('\n')[0] });
    }
  },

  /** What happens when WebGPU cannot start (run with a broken Vulkan setup). */
  async fallback() {
    const bytes = affineModel();
    const out = {};
    for (const eps of [['webgpu'], ['webgpu', 'cpu']]) {
      const t0 = now();
      try {
        const { session } = await createSession(bytes, { executionProviders: eps, preferredOutputLocation: 'gpu-buffer' });
        const { Y } = await session.run({ A: new (ort().Tensor)('float32', A0, [N, N]) });
        out[eps.join('+')] = { created: true, outputLocation: Y.location, ms: ms(now() - t0) };
      } catch (e) {
        out[eps.join('+')] = { created: false, ms: ms(now() - t0), error: shortError(e) };
      }
    }
    result(out);
  },

  /** Per-op support on the WebGPU EP: placement (strict no-CPU-fallback session), correctness, output location. */
  async ops() {
    const extraBase = {};
    const only = OP_CASES;
    const rows = [];
    const Tensor = ort().Tensor;
    for (const c of only) {
      const row = { name: c.name, int64: !!c.int64 };
      try {
        const spec = c.build();
        const bytes = buildModel(spec);
        const feeds = Object.fromEntries(spec.feeds.map(([n, type, dims, values]) => [n, new Tensor(type, toTyped(type, values), dims)]));
        try {
          await createSession(bytes, { executionProviders: ['webgpu'], extra: { ...extraBase, ...NO_CPU_FALLBACK } });
          row.placement = 'webgpu';
        } catch (e) {
          row.placement = /assigned to the default CPU EP/.test(e.message) ? 'cpu-fallback' : `error: ${e.message.split('\n')[0].slice(0, 160)}`;
        }
        const w = (await createSession(bytes, { executionProviders: ['webgpu'], extra: extraBase })).session;
        const g = (await createSession(bytes, { executionProviders: ['webgpu'], extra: extraBase, preferredOutputLocation: 'gpu-buffer' })).session;
        const cpu = (await createSession(bytes, { executionProviders: ['cpu'] })).session;
        const rw = await w.run(feeds);
        const rc = await cpu.run(feeds);
        const rg = await g.run(feeds);
        const bad = [];
        row.gpuBufferLocations = {};
        for (const o of Object.keys(rc)) {
          const cmp = compare(rw[o].data, rc[o].data);
          if (!cmp.ok) bad.push(`${o}: ${cmp.why}`);
          row.gpuBufferLocations[o] = `${rg[o].type}@${rg[o].location}`;
          const cmpG = compare(await download(rg[o]), rc[o].data);
          if (!cmpG.ok) bad.push(`${o} (gpu-buffer): ${cmpG.why}`);
        }
        row.matchesCpu = bad.length === 0 ? true : bad.join('; ');
      } catch (e) {
        row.error = e.message.split('\n')[0].slice(0, 200);
      }
      rows.push(row);
    }
    result({ rows });
  },

  /**
   * Verbose ORT log: the session logger (logSeverityLevel 0) prints the node placement; the
   * environment logger (ort.env.logLevel = 'verbose') prints the WebGPU EP config and device.
   * Also tries to turn on the EP's `enableInt64` through session config entries (`extra`).
   */
  async placementlog() {
    ort().env.logLevel = 'verbose';
    const spec = MIXED_CASE.build();
    await createSession(buildModel(spec), {
      executionProviders: ['webgpu'],
      logSeverityLevel: 0,
      extra: { ep: { webgpuexecutionprovider: { enableInt64: '1' } } },
    });
    let rejected = null;
    try {
      await createSession(buildModel(spec), { executionProviders: [{ name: 'webgpu', enableInt64: '1' }] });
    } catch (e) {
      rejected = shortError(e);
    }
    result({ epOptionEnableInt64: rejected ?? 'accepted' });
  },
};

// ---------------------------------------------------------------------------
// Op cases. feeds: [name, type, dims, values]
// ---------------------------------------------------------------------------

const F = (n, seed, lo, hi) => rand(n, seed, lo, hi);
const BIG = [2 ** 40 + 3, -(2 ** 33) - 5, 7, 2 ** 31 + 1]; // outside the int32 range (exact in float64)
const binF = (op) => ({
  name: op,
  build: () => ({
    nodes: [node(op, ['X', 'Y'], ['Z'])],
    inputs: [vi('X', 'float32', [2, 3]), vi('Y', 'float32', [3])],
    outputs: [vi('Z', 'float32', [2, 3])],
    feeds: [
      ['X', 'float32', [2, 3], F(6, 1, 0.5, 2)],
      ['Y', 'float32', [3], F(3, 2, 0.5, 2)],
    ],
  }),
});
const cmpF = (op) => ({
  name: op,
  build: () => ({
    nodes: [node(op, ['X', 'Y'], ['Z'])],
    inputs: [vi('X', 'float32', [4]), vi('Y', 'float32', [4])],
    outputs: [vi('Z', 'bool', [4])],
    feeds: [
      ['X', 'float32', [4], [1, 2, 3, 4]],
      ['Y', 'float32', [4], [2, 2, 2, 2]],
    ],
  }),
});
const unF = (op, lo = -2, hi = 2, attrs = {}) => ({
  name: op,
  build: () => ({
    nodes: [node(op, ['X'], ['Y'], attrs)],
    inputs: [vi('X', 'float32', [2, 4])],
    outputs: [vi('Y', 'float32', [2, 4])],
    feeds: [['X', 'float32', [2, 4], F(8, 5, lo, hi)]],
  }),
});
const withConst = (name, op, x, consts, outType, outShape, attrs = {}, extra = {}) => ({
  name,
  ...extra,
  build: () => ({
    nodes: [node(op, ['X', ...consts.map((c) => c[0])], ['Y'], attrs)],
    inputs: [vi('X', x[0], x[1])],
    outputs: [vi('Y', outType, outShape)],
    inits: consts.map(([n, t, d, v]) => init(n, t, d, v)),
    feeds: [['X', x[0], x[1], x[2]]],
  }),
});
const reduce = (op) => withConst(op, op, ['float32', [2, 3, 4], F(24, 9)], [['axes', 'int64', [1], [-1]]], 'float32', [2, 3, 1], { keepdims: 1 });

const OP_CASES = [
  ...['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min'].map(binF),
  ...['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual'].map(cmpF),
  ...['And', 'Or'].map((op) => ({
    name: op,
    build: () => ({
      nodes: [node(op, ['X', 'Y'], ['Z'])],
      inputs: [vi('X', 'bool', [4]), vi('Y', 'bool', [4])],
      outputs: [vi('Z', 'bool', [4])],
      feeds: [
        ['X', 'bool', [4], [1, 1, 0, 0]],
        ['Y', 'bool', [4], [1, 0, 1, 0]],
      ],
    }),
  })),
  {
    name: 'Not',
    build: () => ({
      nodes: [node('Not', ['X'], ['Y'])],
      inputs: [vi('X', 'bool', [4])],
      outputs: [vi('Y', 'bool', [4])],
      feeds: [['X', 'bool', [4], [1, 0, 1, 0]]],
    }),
  },
  ...['Neg', 'Abs', 'Sign', 'Exp', 'Tanh', 'Erf', 'Sigmoid', 'Relu', 'Identity'].map((op) => unF(op)),
  unF('Sqrt', 0.1, 4),
  unF('Log', 0.1, 4),
  unF('Softmax', -2, 2, { axis: -1 }),
  unF('LogSoftmax', -2, 2, { axis: -1 }),
  {
    name: 'Where',
    build: () => ({
      nodes: [node('Where', ['C', 'X', 'Y'], ['Z'])],
      inputs: [vi('C', 'bool', [4]), vi('X', 'float32', [4]), vi('Y', 'float32', [4])],
      outputs: [vi('Z', 'float32', [4])],
      feeds: [
        ['C', 'bool', [4], [1, 0, 1, 0]],
        ['X', 'float32', [4], [1, 2, 3, 4]],
        ['Y', 'float32', [4], [5, 6, 7, 8]],
      ],
    }),
  },
  withConst('MatMul', 'MatMul', ['float32', [2, 3, 5], F(30, 4)], [['W', 'float32', [5, 4], F(20, 6)]], 'float32', [2, 3, 4]),
  withConst('Reshape', 'Reshape', ['float32', [2, 6], F(12, 4)], [['shape', 'int64', [3], [3, -1, 2]]], 'float32', [3, 2, 2]),
  withConst('Transpose', 'Transpose', ['float32', [2, 3, 4], F(24, 4)], [], 'float32', [4, 2, 3], { perm: [2, 0, 1] }),
  withConst('Unsqueeze', 'Unsqueeze', ['float32', [2, 3], F(6, 4)], [['axes', 'int64', [1], [1]]], 'float32', [2, 1, 3]),
  withConst('Squeeze', 'Squeeze', ['float32', [2, 1, 3], F(6, 4)], [['axes', 'int64', [1], [1]]], 'float32', [2, 3]),
  withConst('Concat', 'Concat', ['float32', [2, 3], F(6, 4)], [['K', 'float32', [2, 2], F(4, 8)]], 'float32', [2, 5], { axis: 1 }),
  withConst(
    'Slice',
    'Slice',
    ['float32', [4, 6], F(24, 4)],
    [
      ['starts', 'int64', [2], [1, 0]],
      ['ends', 'int64', [2], [3, 6]],
      ['axes', 'int64', [2], [0, 1]],
      ['steps', 'int64', [2], [1, 2]],
    ],
    'float32',
    [2, 3],
  ),
  withConst('Expand', 'Expand', ['float32', [3, 1], F(3, 4)], [['shape', 'int64', [2], [3, 4]]], 'float32', [3, 4]),
  withConst('Shape (int64 out)', 'Shape', ['float32', [2, 3, 4], F(24, 4)], [], 'int64', [3], {}, { int64: true }),
  withConst('Cast f32->int64', 'Cast', ['float32', [4], [1.5, -2.5, 3e9, 7]], [], 'int64', [4], { to: DT.INT64 }, { int64: true }),
  withConst('Cast int64->f32', 'Cast', ['int64', [4], BIG], [], 'float32', [4], { to: DT.FLOAT }, { int64: true }),
  withConst('Cast bool->f32', 'Cast', ['bool', [4], [1, 0, 1, 1]], [], 'float32', [4], { to: DT.FLOAT }),
  {
    name: 'Add int64 (small)',
    int64: true,
    build: () => ({
      nodes: [node('Add', ['X', 'Y'], ['Z'])],
      inputs: [vi('X', 'int64', [4]), vi('Y', 'int64', [4])],
      outputs: [vi('Z', 'int64', [4])],
      feeds: [
        ['X', 'int64', [4], [1, -2, 3, 400]],
        ['Y', 'int64', [4], [10, 20, -30, 40]],
      ],
    }),
  },
  {
    name: 'Add int64 (>2^31)',
    int64: true,
    build: () => ({
      nodes: [node('Add', ['X', 'Y'], ['Z'])],
      inputs: [vi('X', 'int64', [4]), vi('Y', 'int64', [4])],
      outputs: [vi('Z', 'int64', [4])],
      feeds: [
        ['X', 'int64', [4], BIG],
        ['Y', 'int64', [4], [1, 1, 1, 1]],
      ],
    }),
  },
  {
    name: 'Mul int64',
    int64: true,
    build: () => ({
      nodes: [node('Mul', ['X', 'Y'], ['Z'])],
      inputs: [vi('X', 'int64', [4]), vi('Y', 'int64', [4])],
      outputs: [vi('Z', 'int64', [4])],
      feeds: [
        ['X', 'int64', [4], [3, -4, 5, 6]],
        ['Y', 'int64', [4], [7, 8, -9, 10]],
      ],
    }),
  },
  {
    name: 'Equal int64',
    int64: true,
    build: () => ({
      nodes: [node('Equal', ['X', 'Y'], ['Z'])],
      inputs: [vi('X', 'int64', [4]), vi('Y', 'int64', [4])],
      outputs: [vi('Z', 'bool', [4])],
      feeds: [
        ['X', 'int64', [4], [1, 2, 3, 4]],
        ['Y', 'int64', [4], [1, 0, 3, 0]],
      ],
    }),
  },
  {
    name: 'Where int64',
    int64: true,
    build: () => ({
      nodes: [node('Where', ['C', 'X', 'Y'], ['Z'])],
      inputs: [vi('C', 'bool', [4]), vi('X', 'int64', [4]), vi('Y', 'int64', [4])],
      outputs: [vi('Z', 'int64', [4])],
      feeds: [
        ['C', 'bool', [4], [1, 0, 1, 0]],
        ['X', 'int64', [4], [1, 2, 3, 4]],
        ['Y', 'int64', [4], [5, 6, 7, 8]],
      ],
    }),
  },
  withConst('Identity int64', 'Identity', ['int64', [4], BIG], [], 'int64', [4], {}, { int64: true }),
  withConst('Reshape int64', 'Reshape', ['int64', [4], [1, 2, 3, 4]], [['shape', 'int64', [2], [2, 2]]], 'int64', [2, 2], {}, { int64: true }),
  withConst('Concat int64', 'Concat', ['int64', [2], [1, 2]], [['K', 'int64', [2], [3, 4]]], 'int64', [4], { axis: 0 }, { int64: true }),
  withConst('ReduceSum int64', 'ReduceSum', ['int64', [2, 3], [1, 2, 3, 4, 5, 6]], [['axes', 'int64', [1], [1]]], 'int64', [2, 1], { keepdims: 1 }, { int64: true }),
  {
    name: 'Range float',
    build: () => ({
      nodes: [node('Range', ['S', 'L', 'D'], ['Y'])],
      inputs: [vi('S', 'float32', []), vi('L', 'float32', []), vi('D', 'float32', [])],
      outputs: [vi('Y', 'float32', ['n'])],
      feeds: [
        ['S', 'float32', [], [0]],
        ['L', 'float32', [], [5]],
        ['D', 'float32', [], [1]],
      ],
    }),
  },
  {
    name: 'Range int64',
    int64: true,
    build: () => ({
      nodes: [node('Range', ['S', 'L', 'D'], ['Y'])],
      inputs: [vi('S', 'int64', []), vi('L', 'int64', []), vi('D', 'int64', [])],
      outputs: [vi('Y', 'int64', ['n'])],
      feeds: [
        ['S', 'int64', [], [0]],
        ['L', 'int64', [], [5]],
        ['D', 'int64', [], [1]],
      ],
    }),
  },
  {
    name: 'Gather (int64 idx)',
    int64: true,
    build: () => ({
      nodes: [node('Gather', ['X', 'I'], ['Y'], { axis: 0 })],
      inputs: [vi('X', 'float32', [5, 3]), vi('I', 'int64', [4])],
      outputs: [vi('Y', 'float32', [4, 3])],
      feeds: [
        ['X', 'float32', [5, 3], F(15, 2)],
        ['I', 'int64', [4], [4, 0, -1, 2]],
      ],
    }),
  },
  {
    name: 'Gather (int32 idx)',
    build: () => ({
      nodes: [node('Gather', ['X', 'I'], ['Y'], { axis: 0 })],
      inputs: [vi('X', 'float32', [5, 3]), vi('I', 'int32', [4])],
      outputs: [vi('Y', 'float32', [4, 3])],
      feeds: [
        ['X', 'float32', [5, 3], F(15, 2)],
        ['I', 'int32', [4], [4, 0, -1, 2]],
      ],
    }),
  },
  {
    name: 'GatherElements',
    int64: true,
    build: () => ({
      nodes: [node('GatherElements', ['X', 'I'], ['Y'], { axis: 1 })],
      inputs: [vi('X', 'float32', [3, 4]), vi('I', 'int64', [3, 2])],
      outputs: [vi('Y', 'float32', [3, 2])],
      feeds: [
        ['X', 'float32', [3, 4], F(12, 3)],
        ['I', 'int64', [3, 2], [0, 3, 1, 1, -1, 2]],
      ],
    }),
  },
  ...['none', 'add'].map((reduction) => ({
    name: `ScatterElements ${reduction}`,
    int64: true,
    build: () => ({
      nodes: [node('ScatterElements', ['X', 'I', 'U'], ['Y'], { axis: 0, reduction })],
      inputs: [vi('X', 'float32', [3, 3]), vi('I', 'int64', [2, 3]), vi('U', 'float32', [2, 3])],
      outputs: [vi('Y', 'float32', [3, 3])],
      feeds: [
        ['X', 'float32', [3, 3], F(9, 3)],
        ['I', 'int64', [2, 3], [1, 0, 2, 0, 2, 1]],
        ['U', 'float32', [2, 3], F(6, 5)],
      ],
    }),
  })),
  ...['none', 'add'].map((reduction) => ({
    name: `ScatterND ${reduction}`,
    int64: true,
    build: () => ({
      nodes: [node('ScatterND', ['X', 'I', 'U'], ['Y'], { reduction })],
      inputs: [vi('X', 'float32', [4, 3]), vi('I', 'int64', [2, 1]), vi('U', 'float32', [2, 3])],
      outputs: [vi('Y', 'float32', [4, 3])],
      feeds: [
        ['X', 'float32', [4, 3], F(12, 3)],
        ['I', 'int64', [2, 1], [3, 1]],
        ['U', 'float32', [2, 3], F(6, 5)],
      ],
    }),
  })),
  ...[1, 0].map((largest) => ({
    name: `TopK largest=${largest}`,
    int64: true,
    build: () => ({
      nodes: [node('TopK', ['X', 'K'], ['V', 'I'], { axis: -1, largest, sorted: 1 })],
      inputs: [vi('X', 'float32', [3, 6])],
      outputs: [vi('V', 'float32', [3, 2]), vi('I', 'int64', [3, 2])],
      inits: [init('K', 'int64', [1], [2])],
      feeds: [['X', 'float32', [3, 6], F(18, 13)]],
    }),
  })),
  {
    name: 'TopK+ScatterND mix',
    int64: true,
    build: () => ({
      nodes: [
        node('TopK', ['X', 'K'], ['V', 'I'], { axis: -1, largest: 1, sorted: 1 }),
        node('Exp', ['V'], ['E']),
        node('ScatterND', ['Z', 'J', 'U'], ['S'], { reduction: 'none' }),
        node('Relu', ['S'], ['R']),
      ],
      inputs: [vi('X', 'float32', [3, 6]), vi('Z', 'float32', [4, 3]), vi('J', 'int64', [2, 1]), vi('U', 'float32', [2, 3])],
      outputs: [vi('E', 'float32', [3, 2]), vi('I', 'int64', [3, 2]), vi('R', 'float32', [4, 3])],
      inits: [init('K', 'int64', [1], [2])],
      feeds: [
        ['X', 'float32', [3, 6], F(18, 13)],
        ['Z', 'float32', [4, 3], F(12, 3)],
        ['J', 'int64', [2, 1], [3, 1]],
        ['U', 'float32', [2, 3], F(6, 5)],
      ],
    }),
  },
  ...['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceSumSquare'].map(reduce),
  withConst('Trilu upper', 'Trilu', ['float32', [4, 4], F(16, 4)], [['k', 'int64', [], [0]]], 'float32', [4, 4], { upper: 1 }),
  withConst('Trilu lower', 'Trilu', ['float32', [4, 4], F(16, 4)], [['k', 'int64', [], [0]]], 'float32', [4, 4], { upper: 0 }),
  withConst(
    'LayerNormalization',
    'LayerNormalization',
    ['float32', [2, 3, 8], F(48, 4)],
    [
      ['scale', 'float32', [8], F(8, 6, 0.5, 1.5)],
      ['bias', 'float32', [8], F(8, 7)],
    ],
    'float32',
    [2, 3, 8],
    { axis: -1, epsilon: 1e-5 },
  ),
];

/** TopK on WebGPU, then int64 arithmetic on its indices and a Sign (both unsupported -> CPU). */
const MIXED_CASE = {
  name: 'TopK -> Add(int64) + Sign (mixed placement)',
  build: () => ({
    nodes: [node('TopK', ['X', 'K'], ['V', 'I'], { axis: -1, largest: 1, sorted: 1 }), node('Add', ['I', 'one'], ['J']), node('Sign', ['V'], ['S']), node('Exp', ['S'], ['E'])],
    inputs: [vi('X', 'float32', [3, 6])],
    outputs: [vi('J', 'int64', [3, 2]), vi('E', 'float32', [3, 2])],
    inits: [init('K', 'int64', [1], [2]), init('one', 'int64', [], [1])],
    feeds: [['X', 'float32', [3, 6], F(18, 13)]],
  }),
};
OP_CASES.push(MIXED_CASE);

// ---------------------------------------------------------------------------
// Environment report
// ---------------------------------------------------------------------------

function vulkanEnv() {
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  const libvulkan = libDirs.map((d) => `${d}/libvulkan.so.1`).find((p) => existsSync(p)) ?? null;
  const icdDirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  const icds = [];
  for (const d of icdDirs) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      let lib = '?';
      try {
        lib = JSON.parse(readFileSync(`${d}/${f}`, 'utf8')).ICD?.library_path ?? '?';
      } catch {}
      icds.push(`${d}/${f} -> ${lib}`);
    }
  }
  const lavapipe = icds.find((s) => /lvp/.test(s)) ?? null;
  const vars = Object.fromEntries(
    ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES', 'VK_LOADER_DRIVERS_SELECT', 'VK_LOADER_DRIVERS_DISABLE', 'LP_NUM_THREADS']
      .filter((k) => process.env[k] !== undefined)
      .map((k) => [k, process.env[k]]),
  );
  let mesa = null;
  try {
    const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], { encoding: 'utf8' });
    if (dpkg.status === 0) mesa = dpkg.stdout.trim();
  } catch {}
  return { libvulkan, lavapipe, icds, mesaVulkanDrivers: mesa, vars };
}

// ---------------------------------------------------------------------------
// Child process runner
// ---------------------------------------------------------------------------

function runChild(name, arg, env = {}, timeoutMs = 120_000) {
  const t0 = now();
  const r = spawnSync(process.execPath, [SCRIPT, '--child', name, ...(arg ? [arg] : [])], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('@@RESULT '));
  return {
    status: r.status,
    signal: r.signal,
    wallMs: ms(now() - t0),
    result: line ? JSON.parse(line.slice(9)) : null,
    stderr: r.stderr ?? '',
    error: r.error?.message,
  };
}

/** Dawn prints a few harmless warnings about lavapipe limits; keep the rest. */
const noise = /artificially reduced|^\s*$/;
const stderrTail = (s, n = 4) =>
  s
    .split('\n')
    .filter((l) => !noise.test(l))
    .slice(-n)
    .map((l) => `      | ${l.slice(0, 220)}`)
    .join('\n');

// ---------------------------------------------------------------------------
// Main modes
// ---------------------------------------------------------------------------

async function quick() {
  // Minimal in-process gate used by .ci/run: all nodes on WebGPU (no CPU fallback allowed),
  // output really in a GPU buffer, numerically equal to a JS reference.
  const t0 = now();
  try {
    const { Tensor } = ort();
    const { session, createMs } = await createSession(affineModel(), {
      executionProviders: ['webgpu'],
      preferredOutputLocation: 'gpu-buffer',
      extra: NO_CPU_FALLBACK,
    });
    const { Y } = await session.run({ A: new Tensor('float32', A0, [N, N]) });
    if (Y.location !== 'gpu-buffer') throw new Error(`output location is '${Y.location}', expected 'gpu-buffer'`);
    const cmp = compare(await download(Y), affineRef(A0), 1e-3);
    if (!cmp.ok) throw new Error(`WebGPU result differs from reference: ${cmp.why}`);
    console.log(`webgpu-probe: OK — onnxruntime-node ${ortVersion()} WebGPU EP works (session ${ms(createMs)} ms, total ${ms(now() - t0)} ms, max |diff| ${cmp.maxDiff.toExponential(1)})`);
    return 0;
  } catch (e) {
    const env = vulkanEnv();
    console.log(`webgpu-probe: FAILED — ${shortError(e)}`);
    console.log(
      `webgpu-probe: libvulkan.so.1: ${env.libvulkan ?? 'missing (apt-get install libvulkan1)'}; lavapipe ICD: ${env.lavapipe ?? 'missing (apt-get install -t bookworm-backports mesa-vulkan-drivers)'}; VK_* vars: ${JSON.stringify(env.vars)}`,
    );
    return 1;
  }
}

async function full(asJson) {
  const summary = {};
  const env = vulkanEnv();
  console.log('== Environment');
  console.log(`   node ${process.version}, onnxruntime-node ${ortVersion()}, platform ${process.platform}/${process.arch}`);
  console.log(
    `   backends: ${
      ort()
        .listSupportedBackends?.()
        .map((b) => b.name)
        .join(', ') ??
      require('onnxruntime-node/dist/backend.js')
        .listSupportedBackends()
        .map((b) => b.name)
        .join(', ')
    }`,
  );
  console.log(`   libvulkan.so.1: ${env.libvulkan ?? 'MISSING (apt-get install libvulkan1)'}`);
  console.log(`   mesa-vulkan-drivers: ${env.mesaVulkanDrivers ?? 'not installed'}; lavapipe ICD: ${env.lavapipe ?? 'MISSING'}`);
  console.log(`   Vulkan env vars: ${Object.keys(env.vars).length ? JSON.stringify(env.vars) : '(none set)'}`);
  summary.env = env;

  const show = (title, c, fmt) => {
    console.log(`\n== ${title}  (child exit ${c.signal ?? c.status}, ${c.wallMs} ms wall)`);
    if (c.result) fmt(c.result);
    else console.log(`   no result${c.error ? `: ${c.error}` : ''}\n${stderrTail(c.stderr, 6)}`);
  };

  const basic = runChild('basic');
  summary.basic = basic.result;
  show('WebGPU vs CPU, Y = MatMul(A,B) + C (8x8, opset 18)', basic, (r) => {
    console.log(
      `   session create: webgpu first ${r.webgpuCreateFirstMs} ms (Dawn+Vulkan start-up), second ${r.webgpuCreateSecondMs} ms, strict(no CPU fallback) ${r.webgpuCreateStrictMs} ms; cpu ${r.cpuCreateMs} ms`,
    );
    console.log(`   run: webgpu first ${r.webgpuFirstRunMs} ms (shader compile), then ${r.webgpuRunMs} ms/run; cpu ${r.cpuRunMs} ms`);
    console.log(`   output location (default): ${r.webgpuOutputLocation}`);
    console.log(`   webgpu vs cpu: ${r.webgpuVsCpu.ok ? 'match' : `MISMATCH ${r.webgpuVsCpu.why}`} (max |diff| ${r.webgpuVsCpu.maxDiff}); vs JS reference: ${r.webgpuVsJs.ok ? 'match' : 'MISMATCH'}`);
    console.log(`   webgpu ${r.sample.webgpu}\n   cpu    ${r.sample.cpu}`);
  });
  if (!basic.result) {
    console.log('\nWebGPU does not work here; skipping the remaining WebGPU experiments.');
    const fb = runChild('fallback');
    summary.fallback = fb.result;
    show('Fallback behaviour (this machine)', fb, (r) => console.log(`   ${JSON.stringify(r)}`));
    if (asJson) console.log(`@@SUMMARY ${JSON.stringify({ ok: false, ...summary })}`);
    return 1;
  }

  const chain = runChild('chain');
  summary.chain = chain.result;
  show("preferredOutputLocation: 'gpu-buffer', chain of 10 runs Y(n+1) = Y(n)·B + C", chain, (r) => {
    console.log(`   output locations: ${r.locations.join(', ')}; final ${JSON.stringify(r.finalTensor)}`);
    console.log(`   10 chained runs: ${r.chainMs} ms; download via Identity session: ${r.downloadViaIdentitySessionMs} ms`);
    console.log(`   chain result vs CPU chain: ${r.chainVsCpu.ok ? 'match' : `MISMATCH ${r.chainVsCpu.why}`} (max |diff| ${r.chainVsCpu.maxDiff}); vs JS: ${r.chainVsJs.ok ? 'match' : 'MISMATCH'}`);
    console.log(`   webgpu ${r.sample.webgpu}\n   cpu    ${r.sample.cpu}`);
    console.log(`   preferredOutputLocation {Y:'gpu-buffer'} -> ${r.objectFormLocation}`);
    console.log(`   CPU-EP session with preferredOutputLocation 'gpu-buffer' -> '${r.cpuSessionWithGpuBufferPreference}' (silently ignored)`);
    console.log(`   tensor.data on a gpu-buffer tensor: ${r.dataGetterOnGpuTensor}`);
  });

  const gd = runChild('getdata');
  summary.getData = gd.result ?? { crashed: true, signal: gd.signal, status: gd.status };
  console.log(`\n== await tensor.getData() on a gpu-buffer tensor  (child exit ${gd.signal ?? gd.status})`);
  if (gd.result) console.log(`   ${JSON.stringify(gd.result)}`);
  else console.log(`   PROCESS ABORTED (${gd.signal ?? gd.status}) — not catchable from JS:\n${stderrTail(gd.stderr, 2)}`);

  const cf = runChild('cpufeed');
  summary.cpuFeed = cf.result ?? { crashed: true, signal: cf.signal, status: cf.status };
  console.log(`\n== gpu-buffer tensor fed to a CPU-EP session  (child exit ${cf.signal ?? cf.status})`);
  if (cf.result?.ok) console.log(`   works, output location ${cf.result.outLocation}`);
  else if (cf.result?.ran) console.log(`   runs WITHOUT ERROR but returns GARBAGE (the GPU buffer handle is read as host memory):\n   got      ${cf.result.sample}\n   expected ${cf.result.expected}`);
  else if (cf.result) console.log(`   throws: ${cf.result.error}`);
  else console.log(`   PROCESS ABORTED (${cf.signal ?? cf.status}):\n${stderrTail(cf.stderr, 3)}`);

  const printOps = (r) => {
    const w = Math.max(...r.rows.map((x) => x.name.length));
    for (const x of r.rows) {
      const out = x.gpuBufferLocations
        ? Object.entries(x.gpuBufferLocations)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : '';
      const m = x.error ? `ERROR ${x.error}` : x.matchesCpu === true ? 'ok' : `WRONG ${x.matchesCpu}`;
      console.log(`   ${x.name.padEnd(w)}  ${String(x.placement ?? '-').padEnd(12)}  ${m.padEnd(6)}  ${out}`);
    }
  };
  const ops = runChild('ops');
  summary.ops = ops.result;
  show('Op support on the WebGPU EP (placement from a disable_cpu_ep_fallback session; results vs CPU EP; gpu-buffer output locations)', ops, printOps);

  const pl = runChild('placementlog');
  summary.placementLog = pl.stderr.split('\n').filter((l) => /VerifyEachNodeIsAssignedToAnEp|kernel not found|enable int64|Context is created/.test(l));
  summary.epOptionEnableInt64 = pl.result?.epOptionEnableInt64;
  console.log(`\n== Verbose log of '${MIXED_CASE.name}' (ort.env.logLevel='verbose', logSeverityLevel: 0), filtered:`);
  console.log(
    summary.placementLog
      .map(
        (l) =>
          `   ${l
            .replace(/\x1b\[[0-9;]*m/g, '')
            .replace(/^.*?\] ?/, '')
            .slice(0, 200)}`,
      )
      .join('\n') || stderrTail(pl.stderr),
  );
  console.log(`   (extra: { ep: { webgpuexecutionprovider: { enableInt64: '1' } } } was set: see 'enable int64' above)`);
  console.log(`   executionProviders: [{ name: 'webgpu', enableInt64: '1' }] -> ${summary.epOptionEnableInt64}`);

  const fb = runChild('fallback', null, { VK_DRIVER_FILES: '/nonexistent/icd.json', VK_ICD_FILENAMES: '/nonexistent/icd.json' });
  summary.fallback = fb.result;
  show('No usable Vulkan driver (VK_DRIVER_FILES=/nonexistent/icd.json)', fb, (r) => {
    for (const [k, v] of Object.entries(r))
      console.log(`   executionProviders ${k}: ${v.created ? `created (silent fallback!), output location ${v.outputLocation}` : `THROWS at create (${v.ms} ms): ${v.error}`}`);
  });

  const problems = [];
  if (!summary.basic?.webgpuVsCpu?.ok) problems.push('webgpu result differs from cpu');
  if (!summary.chain?.chainVsCpu?.ok) problems.push('gpu-buffer chain differs from cpu');
  for (const r of summary.ops?.rows ?? []) if (r.error || r.matchesCpu !== true) problems.push(`op ${r.name}: ${r.error ?? r.matchesCpu}`);
  console.log(`\n== Verdict: WebGPU EP works${problems.length ? `, but: ${problems.join('; ')}` : '; all checks passed'}`);
  if (asJson) console.log(`@@SUMMARY ${JSON.stringify({ ok: problems.length === 0, problems, ...summary })}`);
  return problems.length ? 2 : 0;
}

// ---------------------------------------------------------------------------

const argv = process.argv.slice(2);
let code;
if (argv[0] === '--child') {
  await cases[argv[1]](argv[2]);
  code = 0;
} else if (argv.includes('--quick')) {
  code = await quick();
} else {
  code = await full(argv.includes('--json'));
}
process.exitCode = code;
