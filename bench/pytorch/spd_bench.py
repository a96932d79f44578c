"""`pnpm bench spd-pytorch`: one SPD training step in PyTorch on the shipped tiny LM, the same step as
nnd's `bench spd` (`--model tiny-lm --modules mlp --c 256 --batch 8 --seq 128`).

The step is bench/pytorch/spd_step.py's (goodfire-ai/spd's, docs DECOMPOSITIONS.md 5b): the frozen
GPT-2 forward with each decomposed module's input cached, the CI functions, then every chosen loss
(each stochastic loss one or more further forwards with the components spliced in; layerwise one per
module; PGD n_steps + 1), backward, clip_grad_norm_ of the components and of the CI functions
separately, AdamW. Masks' random sources are drawn on the fly, as spd does. float32 on the CPU. The
per-component CI MLPs are broadcast multiply-and-sums where spd writes einsums (see ci_pre_sigmoid).

The model is packages/models/tiny-lm (GPT-2: 4 layers, d_model 128, 4 heads, d_mlp 512, vocab 258,
gelu_new, tied unembedding), read from its model.safetensors; Conv1D weights are already x @ W.
Module names are nnd's: blocks.{L}.mlp.W_in (c_fc, 128 -> 512) and blocks.{L}.mlp.W_out (c_proj, 512 -> 128).
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F

from oracle_fixtures import read_safetensors, summarise, time_steps
from spd_step import Sources, TargetModel, gelu_tanh, init_parameters, spd_losses, uniform_k_subset_routing

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TINY_LM = os.path.join(REPO, 'packages', 'models', 'tiny-lm')

LOSSES = {
    'faithfulness': {'name': 'faithfulness', 'coeff': 1.0},
    'stochastic_recon': {'name': 'stochastic_recon', 'coeff': 1.0},
    'stochastic_recon_layerwise': {'name': 'stochastic_recon_layerwise', 'coeff': 1.0},
    'stochastic_recon_subset': {'name': 'stochastic_recon_subset', 'coeff': 0.5, 'routing': 'uniform_k_subset'},
    'importance_minimality': {'name': 'importance_minimality', 'coeff': 1e-4, 'pnorm': 2.0, 'beta': 0.0,
                              'p_anneal_start_frac': 0.0, 'p_anneal_final_p': 0.3, 'p_anneal_end_frac': 1.0, 'eps': 1e-12},
    'pgd_recon': {'name': 'pgd_recon', 'coeff': 0.5, 'init': 'random', 'step_size': 0.5, 'n_steps': 4,
                  'mask_scope': 'shared_across_batch', 'routing': 'uniform_k_subset'},
}


def layer_norm(x, tensors, prefix, eps):
    return F.layer_norm(x, (x.shape[-1],), tensors[f'{prefix}.weight'], tensors[f'{prefix}.bias'], eps)


class TinyGpt2(TargetModel):
    """GPT-2 forward (pre-LN blocks, causal attention, gelu_new MLP, tied unembedding) with the MLP
    matrices routed through the SPD hook."""

    output_loss = 'kl'

    def __init__(self, tensors, config, modules):
        super().__init__(tensors, modules)
        self.config = config
        self.n_layer, self.n_head, self.eps = config['n_layer'], config['n_head'], config['layer_norm_epsilon']
        seq = config['n_positions']
        self.causal = torch.full((seq, seq), float('-inf')).triu(1)

    def linear(self, name, x, hook):
        if name in self.by_name:
            return super().linear(name, x, hook)
        return x @ self.tensors[f'{name}.weight'] + self.tensors[f'{name}.bias']

    def forward(self, tokens, hook=None):
        t = self.tensors
        batch, seq = tokens.shape
        h = t['transformer.wte.weight'][tokens] + t['transformer.wpe.weight'][:seq]
        d = h.shape[-1]
        head = d // self.n_head
        for layer in range(self.n_layer):
            block = f'transformer.h.{layer}'
            qkv = self.linear(f'{block}.attn.c_attn', layer_norm(h, t, f'{block}.ln_1', self.eps), hook)
            q, k, v = (part.reshape(batch, seq, self.n_head, head).transpose(1, 2) for part in qkv.split(d, dim=-1))
            scores = q @ k.transpose(-1, -2) / math.sqrt(head) + self.causal[:seq, :seq]
            attended = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(batch, seq, d)
            h = h + self.linear(f'{block}.attn.c_proj', attended, hook)
            hidden = gelu_tanh(self.linear(f'blocks.{layer}.mlp.W_in', layer_norm(h, t, f'{block}.ln_2', self.eps), hook))
            h = h + self.linear(f'blocks.{layer}.mlp.W_out', hidden, hook)
        return layer_norm(h, t, 'transformer.ln_f', self.eps) @ t['transformer.wte.weight'].t()


def load_tiny_lm(model_dir, modules_option, C, seed):
    with open(os.path.join(model_dir, 'config.json')) as file:
        config = json.load(file)
    weights_path = os.path.join(model_dir, 'model.safetensors')
    if os.path.exists(weights_path):
        tensors, source = read_safetensors(weights_path), os.path.relpath(weights_path, REPO)
    else:
        tensors, source = random_gpt2(config, seed), 'random weights (no model.safetensors)'
    for name in list(tensors):
        tensors[name].requires_grad_(False)
    d, d_mlp = config['n_embd'], config.get('n_inner') or 4 * config['n_embd']
    available = {}
    for layer in range(config['n_layer']):
        block = f'transformer.h.{layer}.mlp'
        available[f'blocks.{layer}.mlp.W_in'] = {'weight': f'{block}.c_fc.weight', 'bias': f'{block}.c_fc.bias', 'd_in': d, 'd_out': d_mlp}
        available[f'blocks.{layer}.mlp.W_out'] = {'weight': f'{block}.c_proj.weight', 'bias': f'{block}.c_proj.bias', 'd_in': d_mlp, 'd_out': d}
    if modules_option == 'mlp':
        names = list(available)
    elif modules_option in ('mlp_in', 'mlp_out'):
        names = [name for name in available if name.endswith('W_in' if modules_option == 'mlp_in' else 'W_out')]
    else:
        names = modules_option.split(',')
        unknown = [name for name in names if name not in available]
        if unknown:
            raise SystemExit(f'--modules: {unknown} are not MLP matrices of the tiny LM (known: mlp, mlp_in, mlp_out, {", ".join(available)})')
    modules = [{'name': name, **available[name], 'C': C} for name in names]
    return TinyGpt2(tensors, config, modules), config, source


def random_gpt2(config, seed):
    generator = torch.Generator().manual_seed(seed)
    d, d_mlp, vocab, seq = config['n_embd'], config.get('n_inner') or 4 * config['n_embd'], config['vocab_size'], config['n_positions']

    def normal(*shape):
        return 0.02 * torch.randn(*shape, generator=generator)

    tensors = {'transformer.wte.weight': normal(vocab, d), 'transformer.wpe.weight': normal(seq, d),
               'transformer.ln_f.weight': torch.ones(d), 'transformer.ln_f.bias': torch.zeros(d)}
    for layer in range(config['n_layer']):
        block = f'transformer.h.{layer}'
        for name, shape in (('attn.c_attn', (d, 3 * d)), ('attn.c_proj', (d, d)), ('mlp.c_fc', (d, d_mlp)), ('mlp.c_proj', (d_mlp, d))):
            tensors[f'{block}.{name}.weight'] = normal(*shape)
            tensors[f'{block}.{name}.bias'] = torch.zeros(shape[1])
        for norm in ('ln_1', 'ln_2'):
            tensors[f'{block}.{norm}.weight'] = torch.ones(d)
            tensors[f'{block}.{norm}.bias'] = torch.zeros(d)
    return tensors


def bench(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model, model_config, source = load_tiny_lm(args.model_dir, args.modules, args.c, args.seed)
    losses = [LOSSES[name] for name in args.losses.split(',')]
    for loss in losses:
        if loss['name'] == 'pgd_recon':
            loss['n_steps'] = args.pgd_steps
    config = {'ci_fn': args.ci_fn, 'ci_hidden': args.ci_hidden, 'use_delta_component': not args.no_delta,
              'n_mask_samples': 1, 'losses': losses}
    component_names, ci_names, initial = init_parameters(model, config, torch.Generator().manual_seed(args.seed))
    params = {key: torch.nn.Parameter(value) for key, value in initial.items()}
    component_params = [params[key] for key in component_names]
    ci_params = [params[key] for key in ci_names]
    optimizer = torch.optim.AdamW(component_params + ci_params, lr=args.lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(args.seed + 1)
    # Two pre-drawn token batches, alternated, as nnd's benches do.
    batches = [torch.randint(0, model_config['vocab_size'], (args.batch, args.seq), generator=generator) for _ in range(2)]
    draw = {'rand': lambda shape: torch.rand(shape), 'routing': lambda shape: uniform_k_subset_routing(shape[0], shape[1:], None).float()}
    total_steps = args.warmup + args.steps

    def step(index):
        result = spd_losses(model, config, params, batches[index % 2], Sources(), {'frac': index / total_steps}, draw)
        total = sum(loss['coeff'] * result['losses'][loss['name']] for loss in losses)
        total.backward()
        torch.nn.utils.clip_grad_norm_(component_params, args.grad_clip)
        torch.nn.utils.clip_grad_norm_(ci_params, args.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
        return float(total)

    cpu_samples = []
    samples = time_steps(step, args.warmup, args.steps, 'spd', cpu_samples)
    result = summarise(samples, cpu_samples)
    print(f"pytorch {torch.__version__} spd {len(model.modules)} modules x C {args.c}, {args.losses}: "
          f"{result['ms_per_step']:.0f} ms per step median ({', '.join(f'{s:.0f}' for s in samples)}), "
          f"peak RSS {result['peak_rss_mb']:.0f} MB, {torch.get_num_threads()} threads", flush=True)
    print(json.dumps({
        'benchmark': 'spd-pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'model': args.model,
        'weights': source, 'modules': [module['name'] for module in model.modules], 'c': args.c, 'batch': args.batch,
        'seq': args.seq, 'ci_fn': args.ci_fn, 'ci_hidden': args.ci_hidden, 'delta': not args.no_delta,
        'losses': args.losses.split(','), 'pgd_steps': args.pgd_steps, 'steps': args.steps, **result,
        'tokens_per_s': args.batch * args.seq / (result['ms_per_step'] / 1000),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', default='tiny-lm', choices=['tiny-lm'])
    parser.add_argument('--model-dir', default=TINY_LM)
    parser.add_argument('--modules', default='mlp', help='mlp (both MLP matrices of every layer), mlp_in, mlp_out, or names')
    parser.add_argument('--c', type=int, default=256)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--seq', type=int, default=128)
    parser.add_argument('--ci-fn', default='mlp', choices=['mlp', 'vector_mlp', 'shared_mlp'])
    parser.add_argument('--ci-hidden', type=int, default=16)
    parser.add_argument('--no-delta', action='store_true')
    parser.add_argument('--losses', default='faithfulness,stochastic_recon,stochastic_recon_layerwise,importance_minimality',
                        help=f'comma-separated, of: {", ".join(LOSSES)}')
    parser.add_argument('--pgd-steps', type=int, default=4)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--grad-clip', type=float, default=1.0)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=0, help='0: torch default')
    args = parser.parse_args()
    unknown = [name for name in args.losses.split(',') if name not in LOSSES]
    if unknown:
        parser.error(f'--losses: unknown {unknown}; known: {", ".join(LOSSES)}')
    bench(args)


if __name__ == '__main__':
    main()
