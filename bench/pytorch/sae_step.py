"""The reference implementation's SAE training step in PyTorch: the comparison for `pnpm bench sae`.

Follows bartbussmann/BatchTopK (sae.py, training.py): forward with the
auxiliary loss (computed only when a feature is dead), backward,
clip_grad_norm_, the decoder's unit-norm constraint, Adam(betas 0.9, 0.99).
Two pre-drawn Gaussian batches alternate, as in nnd's bench. Prints JSON as
its last stdout line.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F


class Sae(torch.nn.Module):
    def __init__(self, kind, act_size, dict_size, top_k, top_k_aux, aux_penalty, l1_coeff, n_batches_to_dead):
        super().__init__()
        self.kind, self.top_k, self.top_k_aux, self.aux_penalty = kind, top_k, top_k_aux, aux_penalty
        self.l1_coeff, self.n_batches_to_dead = l1_coeff, n_batches_to_dead
        self.b_dec = torch.nn.Parameter(torch.zeros(act_size))
        self.b_enc = torch.nn.Parameter(torch.zeros(dict_size))
        self.W_enc = torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(act_size, dict_size)))
        self.W_dec = torch.nn.Parameter(self.W_enc.t().clone())
        self.W_dec.data[:] = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True)
        self.num_batches_not_active = torch.zeros(dict_size)

    def forward(self, x):
        x_cent = x - self.b_dec
        if self.kind == 'vanilla':
            acts = F.relu(x_cent @ self.W_enc + self.b_enc)
            kept = acts
        else:
            acts = F.relu(x_cent @ self.W_enc)
            if self.kind == 'topk':
                top = torch.topk(acts, self.top_k, dim=-1)
                kept = torch.zeros_like(acts).scatter(-1, top.indices, top.values)
            else:
                flat = acts.flatten()
                top = torch.topk(flat, self.top_k * x.shape[0], dim=-1)
                kept = torch.zeros_like(flat).scatter(-1, top.indices, top.values).reshape(acts.shape)
        recon = kept @ self.W_dec + self.b_dec
        self.num_batches_not_active += (kept.sum(0) == 0).float()
        self.num_batches_not_active[kept.sum(0) > 0] = 0
        loss = (recon - x).pow(2).mean() + self.l1_coeff * kept.abs().sum(-1).mean()
        if self.kind != 'vanilla':
            loss = loss + self.auxiliary_loss(x, recon, acts)
        return loss

    def auxiliary_loss(self, x, recon, acts):
        dead = self.num_batches_not_active >= self.n_batches_to_dead
        if dead.sum() == 0:
            return torch.tensor(0.0)
        residual = x - recon
        top = torch.topk(acts[:, dead], min(self.top_k_aux, int(dead.sum())), dim=-1)
        aux_acts = torch.zeros_like(acts[:, dead]).scatter(-1, top.indices, top.values)
        return self.aux_penalty * (aux_acts @ self.W_dec[dead] - residual).pow(2).mean()

    @torch.no_grad()
    def make_decoder_weights_and_grad_unit_norm(self):
        normed = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True)
        self.W_dec.grad -= (self.W_dec.grad * normed).sum(-1, keepdim=True) * normed
        self.W_dec.data = normed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--type', default='topk', choices=['topk', 'batchtopk', 'vanilla'])
    parser.add_argument('--act-size', type=int, default=768)
    parser.add_argument('--dict-size', type=int, default=12288)
    parser.add_argument('--batch', type=int, default=4096)
    parser.add_argument('--k', type=int, default=32)
    parser.add_argument('--aux-penalty', type=float, default=1 / 32)
    parser.add_argument('--l1-coeff', type=float, default=None)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=0, help='0: torch default')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(49)
    l1_coeff = args.l1_coeff if args.l1_coeff is not None else (1e-3 if args.type == 'vanilla' else 0.0)
    sae = Sae(args.type, args.act_size, args.dict_size, args.k, 512, args.aux_penalty, l1_coeff, 5)
    optimizer = torch.optim.Adam(sae.parameters(), lr=3e-4, betas=(0.9, 0.99))
    batches = [torch.randn(args.batch, args.act_size), torch.randn(args.batch, args.act_size)]
    samples = []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = sae(batches[step % 2])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), 100000)
        sae.make_decoder_weights_and_grad_unit_norm()
        optimizer.step()
        optimizer.zero_grad()
        elapsed = (time.perf_counter() - start) * 1000
        print(f'step {step}: {elapsed:.0f} ms, loss {loss.item():.4g}', flush=True)
        if step >= args.warmup:
            samples.append(elapsed)
    ms = statistics.median(samples)
    print(f'pytorch {torch.__version__} {args.type}: {ms:.0f} ms per step median ({", ".join(f"{s:.0f}" for s in samples)}), {torch.get_num_threads()} threads, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB')
    print(json.dumps({
        'benchmark': 'sae-pytorch', 'type': args.type, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'act_size': args.act_size, 'dict_size': args.dict_size, 'batch': args.batch, 'k': args.k, 'steps': args.steps,
        'ms_per_step': ms, 'tokens_per_s': args.batch / (ms / 1000), 'samples_ms': samples,
        # ru_maxrss is in KiB on Linux: the process's peak resident memory, as nnd's bench reports it.
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == '__main__':
    main()
