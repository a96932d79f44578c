"""What the PyTorch oracles (transcoder_step.py, clt_step.py) share: the safetensors file
format, the reference's training step, decision margins, and the bench timing loop.

Written from the safetensors specification (8-byte little-endian header length, a JSON
header of {name: {dtype, shape, data_offsets}}, then the raw tensors) so that fixture
generation needs nothing beyond torch and numpy.
"""
import json
import resource
import statistics
import struct
import time

import numpy as np
import torch


def write_safetensors(path, tensors, metadata=None):
    """Writes float32 tensors (insertion order kept) as a little-endian safetensors file."""
    header = {}
    chunks = []
    offset = 0
    for name, tensor in tensors.items():
        data = np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensor.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = {key: str(value) for key, value in metadata.items()}
    encoded = json.dumps(header, separators=(',', ':')).encode('utf-8')
    # The data section starts 8-byte aligned, as the reference writer pads it.
    encoded += b' ' * (-len(encoded) % 8)
    with open(path, 'wb') as file:
        file.write(struct.pack('<Q', len(encoded)))
        file.write(encoded)
        for chunk in chunks:
            file.write(chunk)


def read_safetensors(path):
    """Reads back what write_safetensors wrote: {name: float32 tensor}."""
    with open(path, 'rb') as file:
        raw = file.read()
    (length,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + length])
    header.pop('__metadata__', None)
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        array = np.frombuffer(raw[base + begin:base + end], dtype='<f4').reshape(entry['shape'])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def training_step(model, optimizer, loss, max_grad_norm, keep_raw_grads=False):
    """The reference's order (training.py): backward, clip_grad_norm_, decoder projection, Adam, zero_grad.

    Returns the total gradient norm before clipping and, if asked, copies of the raw gradients."""
    loss.backward()
    raw_grads = {name: parameter.grad.detach().clone() for name, parameter in model.named_parameters()} if keep_raw_grads else None
    total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    model.make_decoder_weights_and_grad_unit_norm()
    optimizer.step()
    optimizer.zero_grad()
    return float(total_norm), raw_grads


def topk_margin(values, k):
    """The smallest gap, over rows, between a row's k-th and (k+1)-th largest values where
    the k-th is positive: a smaller gap would let float rounding change which entries are kept.
    Ties among zeros are harmless (a kept zero contributes nothing and has no gradient)."""
    if values.shape[-1] <= k:
        return float('inf')
    top = torch.topk(values, k + 1, dim=-1).values
    kth, next_ = top[..., k - 1], top[..., k]
    gaps = (kth - next_)[kth > 0]
    return float(gaps.min()) if gaps.numel() else float('inf')


def boundary_margin(values, boundaries):
    """The smallest distance from any positive value to any boundary (each broadcast against
    values, e.g. a per-feature threshold [F]): where a comparison would flip under rounding."""
    positive = values > 0
    if not positive.any():
        return float('inf')
    return min(float((values - boundary).abs()[positive].min()) for boundary in boundaries)


def preactivation_margin(pre):
    """The smallest |pre-activation|: ReLU decides activity at 0, which the L0 and dead counters see."""
    return float(pre.abs().min())


def peak_rss_mb():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(step, warmup, steps, log_prefix, cpu_samples=None):
    """Runs step(index) -> loss warmup+steps times; returns the timed samples in ms. With a list as
    cpu_samples, also appends each timed step's process CPU time (all threads) in ms, which a loaded
    machine inflates less than the wall time."""
    samples = []
    for index in range(warmup + steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = step(index)
        elapsed = (time.perf_counter() - start) * 1000
        cpu = (time.process_time() - cpu_start) * 1000
        print(f'{log_prefix} step {index}: {elapsed:.0f} ms, cpu {cpu:.0f} ms, loss {loss:.4g}', flush=True)
        if index >= warmup:
            samples.append(elapsed)
            if cpu_samples is not None:
                cpu_samples.append(cpu)
    return samples


def summarise(samples, cpu_samples=None):
    result = {'ms_per_step': statistics.median(samples), 'samples_ms': samples, 'peak_rss_mb': peak_rss_mb()}
    if cpu_samples:
        result['cpu_ms_per_step'] = statistics.median(cpu_samples)
    return result
