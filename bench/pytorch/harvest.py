"""Plain PyTorch GPT-2 forward up to one residual hook: the comparison for `pnpm bench harvest`.

Random weights of the given shape, fp32, torch.no_grad, the blocks before the
hook only (as nnd's program computes). Prints JSON as its last stdout line.
"""
import argparse
import json
import math
import os
import re
import statistics
import time

import torch
import torch.nn.functional as F


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Block(torch.nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads = heads
        self.ln_1 = torch.nn.LayerNorm(d)
        self.c_attn = torch.nn.Linear(d, 3 * d)
        self.c_proj = torch.nn.Linear(d, d)
        self.ln_2 = torch.nn.LayerNorm(d)
        self.c_fc = torch.nn.Linear(d, mlp)
        self.mlp_proj = torch.nn.Linear(mlp, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        pattern = F.softmax(scores.masked_fill(mask[:t, :t], float('-inf')), dim=-1)
        z = (pattern @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.c_proj(z)
        return x + self.mlp_proj(gelu_new(self.c_fc(self.ln_2(x))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--n-layer', type=int, default=12)
    parser.add_argument('--d-model', type=int, default=768)
    parser.add_argument('--n-head', type=int, default=12)
    parser.add_argument('--n-ctx', type=int, default=1024)
    parser.add_argument('--vocab', type=int, default=50257)
    parser.add_argument('--hook', default='blocks.8.hook_resid_pre')
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--seq', type=int, default=128)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--threads', type=int, default=0, help='0: torch default')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    match = re.fullmatch(r'blocks\.(\d+)\.hook_resid_pre', args.hook)
    if not match:
        raise SystemExit(f'--hook must be blocks.N.hook_resid_pre, got {args.hook}')
    layers = min(int(match.group(1)), args.n_layer)

    torch.manual_seed(0)
    wte = torch.nn.Embedding(args.vocab, args.d_model)
    wpe = torch.nn.Embedding(args.n_ctx, args.d_model)
    blocks = [Block(args.d_model, args.n_head, 4 * args.d_model).eval() for _ in range(layers)]
    mask = torch.triu(torch.ones(args.n_ctx, args.n_ctx, dtype=torch.bool), diagonal=1)
    tokens = torch.randint(0, args.vocab, (args.batch, args.seq))
    positions = torch.arange(args.seq)

    def forward():
        with torch.no_grad():
            x = wte(tokens) + wpe(positions)
            for block in blocks:
                x = block(x, mask)
            return x

    forward()
    samples = []
    for _ in range(args.runs):
        start = time.perf_counter()
        out = forward()
        samples.append((time.perf_counter() - start) * 1000)
    ms = statistics.median(samples)
    tokens_per_s = args.batch * args.seq / (ms / 1000)
    print(f'pytorch {torch.__version__} gpt2 {args.n_layer}x{args.d_model}, {args.hook} {list(out.shape)}: {ms:.0f} ms median '
          f'({", ".join(f"{s:.0f}" for s in samples)}), {tokens_per_s:.0f} tokens/s, {torch.get_num_threads()} threads')
    # Debian's torch calls whatever libblas.so.3 points to (reference BLAS, or OpenBLAS once installed).
    blas = '/usr/lib/x86_64-linux-gnu/libblas.so.3'
    print(json.dumps({
        'benchmark': 'harvest-pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'blas_library': os.path.realpath(blas) if os.path.exists(blas) else 'bundled',
        'n_layer': args.n_layer, 'd_model': args.d_model, 'hook': args.hook,
        'blocks_built': layers, 'batch': args.batch, 'seq': args.seq, 'runs': args.runs, 'ms': ms, 'tokens_per_s': tokens_per_s,
    }))


if __name__ == '__main__':
    main()
