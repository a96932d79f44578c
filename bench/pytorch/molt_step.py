"""`pnpm bench molt-pytorch`: one MOLT training step in PyTorch, the same step as nnd's `bench molt`.

Written from the specification (docs DECOMPOSITIONS.md section 4 and the @nnd/molt README):
MOLT(x) = sum_t phi_t(x) (x V_t) U_t + b_D, phi_t = gate(x W_E[:, t] + b_E[t]); rank groups with
counts N, 2N, 4N, 8N, 16N at ranks 512..32 (d_model 768); U, V normal with std (d r)^(-1/4); encoder
rows unit norm; gate bias -1. Gates: topk (per-token top-k of relu(pre)) or batchtopk. Each rank group
is two GEMMs over all its transforms (V [count, d, r] viewed as [d, count r], U [count, r, d] as
[count r, d]), as nnd does; the loss is the MSE to the target plus lambda * mean_rows sum_t
tanh(c phi_t ||U_t V_t||_F), with ||U_t V_t||_F exact from the Gram matrices. A step is forward,
backward, clip_grad_norm_, Adam, zero_grad, on two pre-drawn Gaussian (input, target) batches that
alternate.
"""
import argparse
import json

import torch

from oracle_fixtures import summarise, time_steps

RANKS = (512, 256, 128, 64, 32)


def rank_counts(width, n):
    factor = 1
    while RANKS[0] // factor >= width and RANKS[0] // factor > 1:
        factor *= 2
    counts = {}
    for index, rank in enumerate(RANKS):
        scaled = max(1, rank // factor)
        counts[scaled] = counts.get(scaled, 0) + n * 2 ** index
    return dict(sorted(counts.items(), reverse=True))


class Molt(torch.nn.Module):
    def __init__(self, d, counts, gate, k, lam, c):
        super().__init__()
        self.d, self.counts, self.gate, self.k, self.lam, self.c = d, counts, gate, k, lam, c
        transforms = sum(counts.values())
        encoder = torch.randn(d, transforms)
        self.W_E = torch.nn.Parameter(encoder / encoder.norm(dim=0, keepdim=True))
        self.b_E = torch.nn.Parameter(torch.full((transforms,), -1.0))
        self.b_D = torch.nn.Parameter(torch.zeros(d))
        self.V = torch.nn.ParameterList()
        self.U = torch.nn.ParameterList()
        for rank, count in counts.items():
            std = (d * rank) ** -0.25
            self.V.append(torch.nn.Parameter(torch.randn(count, d, rank) * std))
            self.U.append(torch.nn.Parameter(torch.randn(count, rank, d) * std))

    def gates(self, pre):
        dense = torch.relu(pre)
        if self.gate == 'topk':
            top = torch.topk(dense, self.k, dim=-1)
            return torch.zeros_like(dense).scatter(-1, top.indices, top.values)
        top = torch.topk(dense.flatten(), self.k * dense.shape[0])
        return torch.zeros_like(dense.flatten()).scatter(-1, top.indices, top.values).reshape(dense.shape)

    def forward(self, x, y):
        gates = self.gates(x @ self.W_E + self.b_E)
        out = self.b_D
        norms = []
        offset = 0
        for (rank, count), V, U in zip(self.counts.items(), self.V, self.U):
            group = gates[:, offset:offset + count]
            offset += count
            projected = (x @ V.permute(1, 0, 2).reshape(self.d, count * rank)).view(-1, count, rank)
            out = out + (projected * group.unsqueeze(2)).reshape(-1, count * rank) @ U.reshape(count * rank, self.d)
            norms.append(((V.transpose(1, 2) @ V) * (U @ U.transpose(1, 2))).sum((1, 2)).sqrt())
        norms = torch.cat(norms)
        l2 = (out - y).pow(2).mean()
        sparsity = self.lam * torch.tanh(self.c * gates * norms).sum(-1).mean()
        return l2 + sparsity, (gates > 0).float().sum(-1).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gate', default='topk', choices=['topk', 'batchtopk'])
    parser.add_argument('--d-model', type=int, default=768)
    parser.add_argument('--n', type=int, default=8)
    parser.add_argument('--batch', type=int, default=4096)
    parser.add_argument('--k', type=int, default=16)
    parser.add_argument('--lambda', dest='lam', type=float, default=1e-3)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=0, help='0: torch default')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    counts = rank_counts(args.d_model, args.n)
    model = Molt(args.d_model, counts, args.gate, args.k, args.lam, 1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, betas=(0.9, 0.99), eps=1e-8)
    generator = torch.Generator().manual_seed(0)
    batches = [(torch.randn(args.batch, args.d_model, generator=generator), torch.randn(args.batch, args.d_model, generator=generator)) for _ in range(2)]

    def step(index):
        x, y = batches[index % 2]
        loss, _ = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        return float(loss)

    samples = time_steps(step, args.warmup, args.steps, f'molt {args.gate}')
    result = summarise(samples)
    print(f"pytorch {torch.__version__} molt {args.gate}: {result['ms_per_step']:.0f} ms per step median, peak RSS {result['peak_rss_mb']:.0f} MB, "
          f"{torch.get_num_threads()} threads", flush=True)
    print(json.dumps({
        'benchmark': 'molt-pytorch', 'gate': args.gate, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'd_model': args.d_model, 'n': args.n, 'rank_counts': {str(rank): count for rank, count in counts.items()},
        'batch': args.batch, 'k': args.k, 'steps': args.steps, **result, 'tokens_per_s': args.batch / (result['ms_per_step'] / 1000),
    }))


if __name__ == '__main__':
    main()
