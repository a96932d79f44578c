import { BackendError } from '@nnd/core';

export type OnnxDevice = 'cpu' | 'webgpu' | 'cuda';

const CUDA_MISSING = /cuda|providers_shared|shared library|backend not found/i;
const WEBGPU_MISSING = /adapter|backend not found/i;

const CUDA_HELP =
  "onnxruntime-node's CUDA execution provider is not installed. Its install script downloads the CUDA 12 provider on linux/x64 " +
  '(ONNXRUNTIME_NODE_INSTALL=cuda12, formerly ONNXRUNTIME_NODE_INSTALL_CUDA=v12; see https://onnxruntime.ai/docs/get-started/with-javascript/node.html), ' +
  "but pnpm-workspace.yaml blocks that script on our machines (allowBuilds: onnxruntime-node: false). Allow it and run 'pnpm rebuild onnxruntime-node' " +
  "on a machine with CUDA 12 and cuDNN 9, or use device 'cpu' or 'webgpu' meanwhile.";

const WEBGPU_HELP =
  "onnxruntime-node's WebGPU execution provider found no GPU adapter. It runs on Vulkan through Dawn; on a machine without a GPU install " +
  "Mesa's lavapipe (Mesa 25 or newer, Debian 12's 22.3 is rejected): 'apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1'. " +
  "Use device 'cpu' meanwhile.";

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // onnxruntime names nodes after the IR ('Reshape_12'), so the IR node can be named back.
  const node = /\b([A-Z][A-Za-z]*)_(\d+)\b/.exec(message);
  return node === null ? message : `${node[1]} (node ${node[2]}): ${message}`;
}

export function sessionCreationError(error: unknown, device: OnnxDevice): BackendError {
  const message = describe(error);
  if (device === 'cuda' && CUDA_MISSING.test(message)) return new BackendError(`${CUDA_HELP} onnxruntime said: ${message}`, { cause: error });
  if (device === 'webgpu' && WEBGPU_MISSING.test(message)) return new BackendError(`${WEBGPU_HELP} onnxruntime said: ${message}`, { cause: error });
  return new BackendError(`onnxruntime could not create a ${device} session for the compiled model: ${message}`, { cause: error });
}

export function runError(error: unknown, device: OnnxDevice): BackendError {
  return new BackendError(`onnxruntime (${device}) failed to run the program: ${describe(error)}`, { cause: error });
}
