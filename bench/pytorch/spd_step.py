"""A PyTorch oracle for Stochastic Parameter Decomposition (SPD): known-answer fixtures for
@nnd/spd's tests, and the step that bench/pytorch/spd_bench.py times.

Written from the specification (docs DECOMPOSITIONS.md section 5; 5b is goodfire-ai/spd at dev
2ab728c, files named below), not by importing spd. What it reproduces:
- Components (`spd/models/components.py` LinearComponents): V [d_in, C] ~ N(0, 1/d_in) and
  U [C, d_out] ~ N(0, 1/C). With the target weight W in x @ W orientation [d_in, d_out] (spd keeps
  nn.Linear's [d_out, d_in] = W^T), the masked module is
      out = ((x @ V) * m) @ U + m_delta[..., None] * (x @ Delta) + b,   Delta = W - V @ U,
  Delta recomputed each step *with* gradient (run_spd.py calc_weight_deltas), b the frozen bias.
- Causal-importance functions (`components.py` MLPCiFn, VectorMLPCiFn, VectorSharedMLPCiFn) with one
  hidden layer: `mlp` maps each component's scalar act x @ V[:, c] through its own 1 -> H -> 1 MLP;
  `vector_mlp` maps the module input x through a per-component d_in -> H -> 1 MLP; `shared_mlp` is one
  d_in -> H -> C MLP. Exact (erf) GELU in between; first-layer weights N(0, 2/fan_in), last-layer
  N(0, 1/fan_in), biases 0. The CI input is not detached (run_spd.py detach_inputs=False).
- Sigmoids (`spd/models/sigmoids.py`, leaky_hard): masks use lower_leaky = clamp(x, 0, 1) whose
  backward passes 0.01 * grad where x <= 0 and grad < 0, grad where 0 < x <= 1, 0 above 1; the
  importance loss uses upper_leaky = x > 1 ? 1 + 0.01 (x - 1) : clamp(x, 0, 1) (plain autograd).
- Masks (`utils/component_utils.py`, continuous): m = ci + (1 - ci) r, r ~ U(0,1) per position and
  component; with the delta component, m_delta ~ U(0,1) per position. Routing (`routing.py`):
  `all`, or `uniform_k_subset`: per position k ~ U{1..M}, and module i is routed iff
  rank_i < k where ranks are a random permutation of 0..M-1 per position; unrouted positions take
  the target module's own output (`component_model.py` torch.where(routing, components, target)).
- Losses (`spd/metrics/*`): faithfulness sum Delta^2 / sum numel; stochastic recon sum D / n with
  n = #positions (KL) or #elements (MSE), D summed over mask samples; layerwise: one forward per
  module with only that module replaced, n summed over all of them; subset: stochastic recon with
  uniform_k_subset routing; importance minimality sum_modules sum_c [mean_pos((ci_up + eps)^p)
  * (1 + beta log2(1 + sum_pos((ci_up + eps)^p)))] with p annealed linearly; PGD recon
  (`metrics/pgd_utils.py`): sources [1.., C(+1)] shared across the batch, n steps of
  src = clamp(src + step_size sign(d loss / d src), 0, 1), then the loss with the final sources
  (gradients reach the parameters through ci and the components only, not through the sources).
  KL = sum_vocab softmax(target) (log softmax(target) - log_softmax(pred)) (`utils/general_utils.py`).
- Training (`run_spd.py`): target frozen; AdamW (weight decay 0) over components then CI functions;
  lr from get_scheduled_value (linear warm-up over int(steps * warmup_pct) steps from 0, then
  constant / linear / half-cosine decay to final_val_frac over the remaining steps); p annealed with
  current_frac = step / steps; backward, clip_grad_norm_ of the components and of the CI functions
  separately, AdamW step. float32 (spd's bf16 autocast is a GPU setting).

Modes:
  fixtures --out DIR   writes DIR/<case>.safetensors and DIR/<case>.json for every case
  check [--fixtures DIR] [--spd-source DIR]
                       float64 finite-difference and semantics checks of this oracle; with --fixtures, replays
                       the fixtures from their files alone; with a goodfire-ai/spd
                       checkout, also runs spd's own sigmoids, routing, schedule, losses, components and CI
                       functions on the same tensors and compares
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F

from oracle_fixtures import write_safetensors

ALPHA = 0.01


# ---------------------------------------------------------------- sigmoids

class LowerLeakyHardSigmoid(torch.autograd.Function):
    """clamp(x, 0, 1); backward as spd's LowerLeakyHardSigmoidFunction (a leaky pass-through below 0
    only for negative incoming gradients, i.e. only where it would push x up)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.clamp(x, min=0, max=1)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        zero = torch.zeros_like(grad)
        return torch.where(x <= 0, torch.where(grad < 0, ALPHA * grad, zero), torch.where(x <= 1, grad, zero))


def lower_leaky(x, leaky_backward=True):
    return LowerLeakyHardSigmoid.apply(x) if leaky_backward else torch.clamp(x, min=0, max=1)


def upper_leaky(x):
    return torch.where(x > 1, 1 + ALPHA * (x - 1), torch.clamp(x, min=0, max=1))


# ---------------------------------------------------------------- target models

def gelu_tanh(x):
    # GPT-2's gelu_new, which the shipped tiny LM uses.
    return F.gelu(x, approximate='tanh')


class TargetModel:
    """A frozen model as a function of its input, with each decomposed matrix product routed through
    hook(name, x_in, out) -> out (spd's forward hooks). Weights are in x @ W orientation."""

    def __init__(self, tensors, modules):
        self.tensors = tensors  # name -> frozen tensor
        self.modules = modules  # [{name, weight, bias, d_in, d_out, C}]
        self.by_name = {module['name']: module for module in modules}
        self.relu_inputs = []

    def weight(self, name):
        return self.tensors[self.by_name[name]['weight']]

    def bias(self, name):
        bias = self.by_name[name]['bias']
        return self.tensors[bias] if bias else None

    def linear(self, name, x, hook):
        out = x @ self.weight(name)
        bias = self.bias(name)
        if bias is not None:
            out = out + bias
        return hook(name, x, out) if hook else out


class Tms(TargetModel):
    """Toy model of superposition n -> h -> n: relu(linear2(linear1(x))), linear2 with a bias."""

    output_loss = 'mse'

    def forward(self, x, hook=None):
        hidden = self.linear('linear1', x, hook)
        pre = self.linear('linear2', hidden, hook)
        self.relu_inputs.append(pre.detach())
        return F.relu(pre)


class MlpLm(TargetModel):
    """One transformer MLP with its residual connection and a linear unembedding:
    logits = (x + gelu_tanh(x W_in + b_in) W_out + b_out) W_U, on a residual stream x [B, T, d_model]."""

    output_loss = 'kl'

    def forward(self, x, hook=None):
        hidden = gelu_tanh(self.linear('blocks.0.mlp.W_in', x, hook))
        residual = x + self.linear('blocks.0.mlp.W_out', hidden, hook)
        return residual @ self.tensors['target.unembed.W_U']


def make_target(spec, generator):
    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    if spec['model'] == 'tms':
        n, h = spec['n_features'], spec['n_hidden']
        # A trained 5 -> 2 TMS stores its features as a regular polygon; W1 [n, h], W2 = W1^T.
        angles = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n + 0.3
        w1 = torch.stack([angles.cos(), angles.sin()], dim=1) * (1 + 0.1 * randn(n, 1))
        tensors = {'target.linear1.W': w1, 'target.linear2.W': w1.t().clone(), 'target.linear2.b': -0.2 + 0.05 * randn(n)}
        modules = [
            {'name': 'linear1', 'weight': 'target.linear1.W', 'bias': None, 'd_in': n, 'd_out': h},
            {'name': 'linear2', 'weight': 'target.linear2.W', 'bias': 'target.linear2.b', 'd_in': h, 'd_out': n},
        ]
        cls = Tms
    else:
        d, m, vocab = spec['d_model'], spec['d_mlp'], spec['vocab']
        tensors = {
            'target.blocks.0.mlp.W_in': randn(d, m) / math.sqrt(d),
            'target.blocks.0.mlp.b_in': 0.1 * randn(m),
            'target.blocks.0.mlp.W_out': randn(m, d) / math.sqrt(m),
            'target.blocks.0.mlp.b_out': 0.1 * randn(d),
            'target.unembed.W_U': 2 * randn(d, vocab) / math.sqrt(d),
        }
        modules = [
            {'name': 'blocks.0.mlp.W_in', 'weight': 'target.blocks.0.mlp.W_in', 'bias': 'target.blocks.0.mlp.b_in', 'd_in': d, 'd_out': m},
            {'name': 'blocks.0.mlp.W_out', 'weight': 'target.blocks.0.mlp.W_out', 'bias': 'target.blocks.0.mlp.b_out', 'd_in': m, 'd_out': d},
        ]
        cls = MlpLm
    for module in modules:
        module['C'] = spec['C']
    return cls(tensors, modules)


# ---------------------------------------------------------------- SPD parameters

def init_normal(generator, shape, std, dtype):
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) * std).to(dtype)


def ci_parameter_shapes(kind, d_in, C, hidden):
    if kind == 'mlp':
        return [('ci.in.W', (C, 1, hidden), math.sqrt(2)), ('ci.in.b', (C, hidden), 0.0),
                ('ci.out.W', (C, hidden, 1), 1 / math.sqrt(hidden)), ('ci.out.b', (C, 1), 0.0)]
    if kind == 'vector_mlp':
        return [('ci.in.W', (C, d_in, hidden), math.sqrt(2 / d_in)), ('ci.in.b', (C, hidden), 0.0),
                ('ci.out.W', (C, hidden, 1), 1 / math.sqrt(hidden)), ('ci.out.b', (C, 1), 0.0)]
    if kind == 'shared_mlp':
        return [('ci.in.W', (d_in, hidden), math.sqrt(2 / d_in)), ('ci.in.b', (hidden,), 0.0),
                ('ci.out.W', (hidden, C), 1 / math.sqrt(hidden)), ('ci.out.b', (C,), 0.0)]
    raise ValueError(kind)


def init_parameters(model, config, generator, dtype=torch.float32):
    """spd's order: every module's V then U, then the CI functions. Returns (component names, CI names, {name: tensor})."""
    params, component_names, ci_names = {}, [], []
    for module in model.modules:
        name, d_in, d_out, C = module['name'], module['d_in'], module['d_out'], module['C']
        params[f'{name}.V'] = init_normal(generator, (d_in, C), 1 / math.sqrt(d_in), dtype)
        params[f'{name}.U'] = init_normal(generator, (C, d_out), 1 / math.sqrt(C), dtype)
        component_names += [f'{name}.V', f'{name}.U']
    for module in model.modules:
        for suffix, shape, std in ci_parameter_shapes(config['ci_fn'], module['d_in'], module['C'], config['ci_hidden']):
            name = f"{module['name']}.{suffix}"
            params[name] = init_normal(generator, shape, std, dtype) if std else torch.zeros(shape, dtype=dtype)
            ci_names.append(name)
    return component_names, ci_names, params


def ci_pre_sigmoid(kind, params, module, x, V):
    W1, b1, W2, b2 = (params[f'{module}.ci.{key}'] for key in ('in.W', 'in.b', 'out.W', 'out.b'))
    # spd's ParallelLinear is an einsum ("... C d_in, C d_in d_out -> ... C d_out"); this broadcast
    # multiply-and-sum computes the same. With torch 1.13's einsum here, the full fixture step gave
    # different results from run to run (not reproduced in isolation), so the oracle avoids it.
    if kind == 'mlp':
        acts = x @ V  # [..., C]
        hidden = F.gelu(acts[..., None] * W1[:, 0, :] + b1)  # [..., C, H]
        return (hidden * W2[:, :, 0]).sum(-1) + b2[:, 0]
    if kind == 'vector_mlp':
        hidden = F.gelu(torch.einsum('...i,cih->...ch', x, W1) + b1)
        return (hidden * W2[:, :, 0]).sum(-1) + b2[:, 0]
    return F.gelu(x @ W1 + b1) @ W2 + b2


def component_forward(x, V, U, bias, mask, delta, delta_mask):
    out = ((x @ V) * mask) @ U
    if delta is not None:
        out = out + delta_mask[..., None] * (x @ delta)
    if bias is not None:
        out = out + bias
    return out


# ---------------------------------------------------------------- losses

def recon_sum(pred, target, kind):
    """spd's calc_sum_recon_loss_lm and the count it divides by."""
    if kind == 'mse':
        return ((pred - target) ** 2).sum(), pred.numel()
    kl = F.kl_div(torch.log_softmax(pred, dim=-1), torch.softmax(target, dim=-1), reduction='none').sum(-1)
    return kl.sum(), pred.shape[:-1].numel()


def faithfulness(deltas):
    return sum((delta ** 2).sum() for delta in deltas.values()) / sum(delta.numel() for delta in deltas.values())


def importance_minimality(ci_upper, loss, frac):
    p = annealed_p(frac, loss)
    total = 0
    for value in ci_upper.values():
        powered = (value + loss.get('eps', 1e-12)) ** p
        sums = powered.reshape(-1, powered.shape[-1]).sum(0)
        mean = sums / powered[..., 0].numel()
        total = total + (mean + loss.get('beta', 0.0) * mean * torch.log2(1 + sums)).sum()
    return total


def annealed_p(frac, loss):
    p, final, start, end = loss['pnorm'], loss.get('p_anneal_final_p'), loss.get('p_anneal_start_frac', 1.0), loss.get('p_anneal_end_frac', 1.0)
    if final is None or start >= 1.0 or frac < start:
        return p
    if frac >= end:
        return final
    return p + (final - p) * (frac - start) / (end - start)


def scheduled_lr(step, total_steps, schedule):
    warmup_steps = int(total_steps * schedule['warmup_pct'])
    decay_steps = total_steps - warmup_steps
    start = schedule['start_val']
    if step < warmup_steps:
        return start * (step / warmup_steps)
    if decay_steps <= 1:
        return start
    progress = (step - warmup_steps) / (decay_steps - 1)
    final = schedule['final_val_frac']
    if schedule['fn_type'] == 'constant':
        return start
    if schedule['fn_type'] == 'linear':
        return start * (final + (1 - final) * (1 - progress))
    return start * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress)))


def uniform_k_subset_routing(n_modules, shape, generator):
    """spd's sample_uniform_k_subset_routing_masks, draw for draw (randint for k, then rand for the
    permutation ranks): a [n_modules, *shape] bool tensor, routed iff rank < k."""
    k = torch.randint(1, n_modules + 1, shape, generator=generator)
    noise = torch.rand((n_modules, *shape), generator=generator)
    ranks = noise.argsort(dim=0).argsort(dim=0)
    return ranks < k


class Sources:
    """Every random draw of one step, kept by name so that it can be saved and replayed."""

    def __init__(self, tensors=None):
        self.tensors = dict(tensors or {})

    def get(self, name, shape, draw):
        if name not in self.tensors:
            self.tensors[name] = draw(shape)
        return self.tensors[name]


def masked_hook(model, masks, routing=None):
    """A forward hook that replaces the modules in `masks` ({name: (V, U, mask, delta, delta_mask)})."""

    def hook(name, x, out):
        if name not in masks:
            return out
        V, U, mask, delta, delta_mask = masks[name]
        replaced = component_forward(x, V, U, model.bias(name), mask, delta, delta_mask)
        if routing is None:
            return replaced
        return torch.where(routing[name][..., None], replaced, out)

    return hook


def spd_losses(model, config, params, x, sources, step, draw, leaky_backward=True, margins=None):
    """All of spd's training losses for one batch, as {loss name: scalar}, plus what the step logs."""
    kind = model.output_loss
    names = [module['name'] for module in model.modules]
    use_delta = config['use_delta_component']
    inputs = {}

    def cache(name, x_in, out):
        inputs[name] = x_in
        return out

    model.relu_inputs = []
    with torch.no_grad():
        target_out = model.forward(x, cache)
    deltas = {name: model.weight(name) - params[f'{name}.V'] @ params[f'{name}.U'] for name in names}
    pre = {name: ci_pre_sigmoid(config['ci_fn'], params, name, inputs[name], params[f'{name}.V']) for name in names}
    ci = {name: lower_leaky(pre[name], leaky_backward) for name in names}
    ci_upper = {name: upper_leaky(pre[name]) for name in names}
    batch_shape = next(iter(ci.values())).shape[:-1]

    def stochastic_masks(prefix, routed):
        masks, routing = {}, None
        for name in names:
            r = sources.get(f'{prefix}.{name}.r', ci[name].shape, draw['rand'])
            delta_mask = sources.get(f'{prefix}.{name}.r_delta', batch_shape, draw['rand']) if use_delta else None
            masks[name] = (params[f'{name}.V'], params[f'{name}.U'], ci[name] + (1 - ci[name]) * r,
                           deltas[name] if use_delta else None, delta_mask)
        if routed:
            routing_all = sources.get(f'{prefix}.routing', (len(names), *batch_shape), draw['routing'])
            routing = {name: routing_all[index] > 0.5 for index, name in enumerate(names)}
        return masks, routing

    losses = {}
    n_samples = config['n_mask_samples']
    for loss in config['losses']:
        name = loss['name']
        if name == 'faithfulness':
            losses[name] = faithfulness(deltas)
        elif name == 'importance_minimality':
            losses[name] = importance_minimality(ci_upper, loss, step['frac'])
        elif name in ('stochastic_recon', 'stochastic_recon_subset'):
            sum_loss, count = 0, 0
            for sample in range(n_samples):
                masks, routing = stochastic_masks(f'{name}.{sample}', name == 'stochastic_recon_subset')
                value, n = recon_sum(model.forward(x, masked_hook(model, masks, routing)), target_out, kind)
                sum_loss, count = sum_loss + value, count + n
            losses[name] = sum_loss / count
        elif name == 'stochastic_recon_layerwise':
            sum_loss, count = 0, 0
            for sample in range(n_samples):
                masks, _ = stochastic_masks(f'{name}.{sample}', False)
                for module in names:
                    value, n = recon_sum(model.forward(x, masked_hook(model, {module: masks[module]})), target_out, kind)
                    sum_loss, count = sum_loss + value, count + n
            losses[name] = sum_loss / count
        elif name == 'pgd_recon':
            losses[name] = pgd_recon(model, config, loss, params, x, target_out, ci, deltas, sources, draw, margins)
        else:
            raise ValueError(name)
    return {'losses': losses, 'pre': pre, 'ci': ci, 'target_out': target_out}


def pgd_recon(model, config, loss, params, x, target_out, ci, deltas, sources, draw, margins):
    """spd's pgd_masked_recon_loss_update with mask_scope shared_across_batch."""
    names = [module['name'] for module in model.modules]
    use_delta = config['use_delta_component']
    batch_shape = next(iter(ci.values())).shape[:-1]
    routing = None
    if loss['routing'] == 'uniform_k_subset':
        routing_all = sources.get('pgd_recon.routing', (len(names), *batch_shape), draw['routing'])
        routing = {name: routing_all[index] > 0.5 for index, name in enumerate(names)}
    adv = {}
    for module in model.modules:
        shape = (*[1] * len(batch_shape), module['C'] + (1 if use_delta else 0))
        init = sources.get(f"pgd_recon.{module['name']}.init", shape, draw['rand'])
        adv[module['name']] = init.detach().clone().requires_grad_(True)

    def forward():
        masks = {}
        for name in names:
            expanded = adv[name].expand(*batch_shape, -1)
            component_source = expanded[..., :-1] if use_delta else expanded
            masks[name] = (params[f'{name}.V'], params[f'{name}.U'], ci[name] + (1 - ci[name]) * component_source,
                           deltas[name] if use_delta else None, expanded[..., -1] if use_delta else None)
        value, n = recon_sum(model.forward(x, masked_hook(model, masks, routing)), target_out, model.output_loss)
        return value / n

    for _ in range(loss['n_steps']):
        grads = torch.autograd.grad(forward(), list(adv.values()), retain_graph=True)
        if margins is not None:
            # A sign decided by rounding would differ between implementations: record the smallest
            # non-zero |gradient| relative to the largest.
            for grad in grads:
                nonzero = grad[grad != 0].abs()
                if nonzero.numel():
                    margins['pgd_sign'] = min(margins.get('pgd_sign', math.inf), float(nonzero.min() / nonzero.max()))
        with torch.no_grad():
            for source, grad in zip(adv.values(), grads):
                source.add_(loss['step_size'] * grad.sign())
                source.clamp_(0.0, 1.0)
    for name in names:
        sources.tensors[f'pgd_recon.{name}.final'] = adv[name].detach().clone()
    return forward()


# ---------------------------------------------------------------- fixture cases

TMS_SPEC = {'model': 'tms', 'n_features': 5, 'n_hidden': 2, 'batch_size': 16, 'feature_probability': 0.3}
MLP_SPEC = {'model': 'mlp_lm', 'd_model': 8, 'd_mlp': 16, 'vocab': 12, 'batch_size': 2, 'seq_len': 4}

ALL_LOSSES = [
    {'name': 'faithfulness', 'coeff': 1.0},
    {'name': 'stochastic_recon', 'coeff': 1.0},
    {'name': 'stochastic_recon_layerwise', 'coeff': 1.0},
    {'name': 'stochastic_recon_subset', 'coeff': 0.5, 'routing': 'uniform_k_subset'},
    {'name': 'importance_minimality', 'coeff': 3e-3, 'pnorm': 2.0, 'beta': 0.0, 'p_anneal_start_frac': 0.0,
     'p_anneal_final_p': 1.0, 'p_anneal_end_frac': 1.0, 'eps': 1e-12},
    {'name': 'pgd_recon', 'coeff': 0.5, 'init': 'random', 'step_size': 0.1, 'n_steps': 2,
     'mask_scope': 'shared_across_batch', 'routing': 'all'},
]


def with_loss(losses, name, **changes):
    return [{**loss, **changes} if loss['name'] == name else loss for loss in losses]


CASES = [
    ('tms', 'TMS 5 -> 2 (ReLU output, MSE), layerwise `mlp` CI functions, delta component on, every loss; '
     'PGD routed to all modules; p annealed 2 -> 1 over training; warm-up (step 0 has lr 0) then cosine',
     {**TMS_SPEC, 'C': 10, 'ci_fn': 'mlp', 'ci_hidden': 16, 'use_delta_component': True, 'n_mask_samples': 1,
      'losses': ALL_LOSSES, 'total_steps': 5,
      'lr_schedule': {'start_val': 1e-2, 'fn_type': 'cosine', 'warmup_pct': 0.2, 'final_val_frac': 0.1},
      'grad_clip_norm_components': 0.5, 'grad_clip_norm_ci_fns': 0.5}),
    ('tms_vector_mlp_no_delta', 'TMS 5 -> 2 with `vector_mlp` CI functions, no delta component, 2 mask samples, '
     'importance p = 1 with beta 0.5, PGD with uniform_k_subset routing; linear decay without warm-up',
     {**TMS_SPEC, 'C': 10, 'ci_fn': 'vector_mlp', 'ci_hidden': 8, 'use_delta_component': False, 'n_mask_samples': 2,
      'losses': with_loss(with_loss(ALL_LOSSES, 'importance_minimality', pnorm=1.0, beta=0.5, p_anneal_final_p=None),
                          'pgd_recon', routing='uniform_k_subset'),
      'total_steps': 4, 'lr_schedule': {'start_val': 1e-2, 'fn_type': 'linear', 'warmup_pct': 0.0, 'final_val_frac': 0.5},
      'grad_clip_norm_components': 10.0, 'grad_clip_norm_ci_fns': 0.025}),
    ('mlp_kl', 'GELU MLP in a residual stream with a linear unembedding (KL on logits), layerwise `mlp` CI functions, '
     'delta component on, every loss; PGD with uniform_k_subset routing; warm-up then cosine',
     {**MLP_SPEC, 'C': 6, 'ci_fn': 'mlp', 'ci_hidden': 16, 'use_delta_component': True, 'n_mask_samples': 1,
      'losses': with_loss(with_loss(ALL_LOSSES, 'importance_minimality', coeff=1e-2), 'pgd_recon', routing='uniform_k_subset'),
      'total_steps': 5, 'lr_schedule': {'start_val': 1e-2, 'fn_type': 'cosine', 'warmup_pct': 0.2, 'final_val_frac': 0.1},
      'grad_clip_norm_components': 0.1, 'grad_clip_norm_ci_fns': 1.0}),
    ('mlp_kl_shared_mlp', 'the MLP case with a `shared_mlp` CI function (d_in -> 8 -> C), delta component on, '
     'importance beta 0.5; cosine without warm-up',
     {**MLP_SPEC, 'C': 6, 'ci_fn': 'shared_mlp', 'ci_hidden': 8, 'use_delta_component': True, 'n_mask_samples': 1,
      'losses': with_loss(ALL_LOSSES, 'importance_minimality', coeff=1e-2, beta=0.5),
      'total_steps': 4, 'lr_schedule': {'start_val': 1e-2, 'fn_type': 'cosine', 'warmup_pct': 0.0, 'final_val_frac': 0.1},
      'grad_clip_norm_components': 1.0, 'grad_clip_norm_ci_fns': 1.0}),
    ('mlp_kl_vector_mlp_no_delta', 'the MLP case with `vector_mlp` CI functions and no delta component; constant lr',
     {**MLP_SPEC, 'C': 6, 'ci_fn': 'vector_mlp', 'ci_hidden': 8, 'use_delta_component': False, 'n_mask_samples': 1,
      'losses': with_loss(with_loss(ALL_LOSSES, 'importance_minimality', coeff=1e-2), 'pgd_recon', routing='uniform_k_subset'),
      'total_steps': 4, 'lr_schedule': {'start_val': 1e-2, 'fn_type': 'constant', 'warmup_pct': 0.0, 'final_val_frac': 1.0},
      'grad_clip_norm_components': 1.0, 'grad_clip_norm_ci_fns': 1.0}),
]

N_STEPS = 3
ADAM = {'betas': (0.9, 0.999), 'eps': 1e-8, 'weight_decay': 0.0}
CI_ALIVE_THRESHOLD = 0.1
# Distances below which float32 rounding in another implementation could flip a decision (a sigmoid's
# kink at 0 or 1, the TMS output ReLU, a PGD gradient's sign); draws are repeated until clear.
KINK_MARGIN = 1e-5
SIGN_MARGIN = 1e-4


def draw_batch(config, generator):
    if config['model'] == 'tms':
        shape = (config['batch_size'], config['n_features'])
        active = torch.rand(shape, generator=generator) < config['feature_probability']
        return torch.rand(shape, generator=generator) * active
    return torch.randn(config['batch_size'], config['seq_len'], config['d_model'], generator=generator)


def draws(generator):
    return {
        'rand': lambda shape: torch.rand(shape, generator=generator),
        'routing': lambda shape: uniform_k_subset_routing(shape[0], shape[1:], generator).float(),
    }


def step_margins(model, result, margins):
    found = dict(margins)
    # Exact zeros are left out: a TMS input row of zeros gives pre = 0 exactly while the CI biases are 0
    # (gelu(0) = 0), in any implementation.
    distances = [torch.minimum(pre.abs(), (pre - 1).abs())[pre != 0] for pre in result['pre'].values()]
    found['ci_kink'] = min((float(d.min()) for d in distances if d.numel()), default=math.inf)
    if model.relu_inputs:
        found['relu'] = min(float(value.abs().min()) for value in model.relu_inputs)
    return found


def margins_clear(found):
    return (found['ci_kink'] > KINK_MARGIN and found.get('relu', math.inf) > KINK_MARGIN
            and found.get('pgd_sign', math.inf) > SIGN_MARGIN)


def clip_grad_norm(params, max_norm):
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))


def generate_case(name, config, seed):
    generator = torch.Generator().manual_seed(seed)
    model = make_target(config, generator)
    model.tensors = {key: value.float().contiguous() for key, value in model.tensors.items()}
    component_names, ci_names, initial = init_parameters(model, config, generator)
    params = {key: torch.nn.Parameter(value.clone()) for key, value in initial.items()}
    optimizer = torch.optim.AdamW([params[key] for key in component_names + ci_names], lr=0.0, **ADAM)
    tensors = {**model.tensors, **{f'initial.{key}': value for key, value in initial.items()}}
    steps = []
    for step in range(N_STEPS):
        lr = scheduled_lr(step, config['total_steps'], config['lr_schedule'])
        info = {'frac': step / config['total_steps']}
        for attempt in range(200):
            x = draw_batch(config, generator)
            sources = Sources()
            margins = {}
            result = spd_losses(model, config, params, x, sources, info, draws(generator), margins=margins)
            found = step_margins(model, result, margins)
            if margins_clear(found):
                break
        else:
            raise RuntimeError(f'{name} step {step}: no draw with clear decision margins in 200 tries')
        losses = result['losses']
        total = sum(loss['coeff'] * losses[loss['name']] for loss in config['losses'])
        ordered = [params[key] for key in component_names + ci_names]
        if step == 0:
            for loss in config['losses']:
                grads = torch.autograd.grad(losses[loss['name']], ordered, retain_graph=True, allow_unused=True)
                for key, grad in zip(component_names + ci_names, grads):
                    tensors[f"grad0.{loss['name']}.{key}"] = torch.zeros_like(params[key]) if grad is None else grad
        total.backward()
        if step == 0:
            tensors.update({f'grad0.{key}': params[key].grad.detach().clone() for key in component_names + ci_names})
            tensors['debug0.target_out'] = result['target_out']
            tensors.update({f'debug0.{module}.ci_pre': value.detach() for module, value in result['pre'].items()})
        tensors[f'batch{step}.input'] = x
        tensors.update({f'batch{step}.{key}': value.float() for key, value in sources.tensors.items()})
        norm_components = clip_grad_norm([params[key] for key in component_names], config['grad_clip_norm_components'])
        norm_ci = clip_grad_norm([params[key] for key in ci_names], config['grad_clip_norm_ci_fns'])
        for group in optimizer.param_groups:
            group['lr'] = lr
        optimizer.step()
        optimizer.zero_grad()
        tensors.update({f'step{step}.{key}': params[key].detach().clone() for key in component_names + ci_names})
        imp = next((loss for loss in config['losses'] if loss['name'] == 'importance_minimality'), None)
        steps.append({
            'step': step, 'lr': lr, 'current_frac': info['frac'], 'p': annealed_p(info['frac'], imp) if imp else None,
            'losses': {key: float(value) for key, value in losses.items()}, 'total_loss': float(total),
            'grad_norm_components': norm_components, 'grad_norm_ci_fns': norm_ci,
            'clipped_components': norm_components > config['grad_clip_norm_components'],
            'clipped_ci_fns': norm_ci > config['grad_clip_norm_ci_fns'],
            'l0': {module: float((ci > CI_ALIVE_THRESHOLD).float().sum(-1).mean()) for module, ci in result['ci'].items()},
            'margins': found, 'redraws': attempt,
        })
    return model, component_names, ci_names, tensors, steps


def write_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for index, (name, description, config) in enumerate(CASES):
        seed = 5000 + index
        model, component_names, ci_names, tensors, steps = generate_case(name, config, seed)
        write_safetensors(os.path.join(out_dir, f'{name}.safetensors'), tensors,
                          {'generator': 'bench/pytorch/spd_step.py', 'case': name, 'torch': torch.__version__})
        record = {
            'case': name, 'description': description, 'generator': 'bench/pytorch/spd_step.py fixtures',
            'torch': torch.__version__, 'seed': seed, 'config': config,
            'modules': model.modules, 'output_loss': model.output_loss,
            'component_parameters': component_names, 'ci_fn_parameters': ci_names,
            'adamw': {'betas': list(ADAM['betas']), 'eps': ADAM['eps'], 'weight_decay': ADAM['weight_decay']},
            'leaky_alpha': ALPHA, 'ci_alive_threshold': CI_ALIVE_THRESHOLD, 'n_steps': N_STEPS, 'steps': steps,
        }
        with open(os.path.join(out_dir, f'{name}.json'), 'w') as file:
            json.dump(record, file, indent=1)
            file.write('\n')
        for s in steps:
            print(f"{name} step {s['step']}: lr {s['lr']:.4g} total {s['total_loss']:.5g} "
                  + ' '.join(f'{k} {v:.4g}' for k, v in s['losses'].items())
                  + f" |g| {s['grad_norm_components']:.3g}{'*' if s['clipped_components'] else ''}"
                  f"/{s['grad_norm_ci_fns']:.3g}{'*' if s['clipped_ci_fns'] else ''} redraws {s['redraws']} "
                  + ' '.join(f'{k} {v:.2g}' for k, v in s['margins'].items()))


# ---------------------------------------------------------------- self-checks

def check():
    """Float64 checks of the oracle against definitions it must satisfy."""
    torch.manual_seed(0)
    failures = []

    # 1. Gradients by central finite differences, for every case, with the sources fixed. The lower-leaky
    #    sigmoid's custom backward is not a derivative, so it is replaced by plain clamp here (it is
    #    checked separately below); PGD's final sources are locally constant in the parameters.
    for index, (name, _, config) in enumerate(CASES):
        generator = torch.Generator().manual_seed(7000 + index)
        model = make_target(config, generator)
        component_names, ci_names, initial = init_parameters(model, config, generator, dtype=torch.float64)
        # Non-zero CI biases: with spd's zero init, a TMS input row of zeros puts pre-sigmoid values exactly
        # on the clamp's kink at 0, where a finite difference averages the one-sided derivatives.
        for key in ci_names:
            if key.endswith('.b'):
                initial[key] = initial[key] + 0.1 * torch.randn(initial[key].shape, generator=generator, dtype=torch.float64)
        params = {key: value.clone().requires_grad_(True) for key, value in initial.items()}
        x = draw_batch(config, generator).double()
        sources = Sources()
        info = {'frac': 0.2}
        spd_losses(model, config, params, x, sources, info, draws(generator), leaky_backward=False)
        fixed = Sources({key: value.double() for key, value in sources.tensors.items() if not key.endswith('.final')})

        def total_loss(values):
            result = spd_losses(model, config, values, x, Sources(fixed.tensors), info, draws(generator), leaky_backward=False)
            return sum(loss['coeff'] * result['losses'][loss['name']] for loss in config['losses'])

        loss = total_loss(params)
        grads = torch.autograd.grad(loss, [params[key] for key in component_names + ci_names])
        worst = 0.0
        for key, grad in zip(component_names + ci_names, grads):
            flat = params[key].detach().reshape(-1)
            for entry in torch.randperm(flat.numel(), generator=generator)[:3].tolist():
                h = 1e-6
                values = {k: v.detach().clone() for k, v in params.items()}
                values[key].view(-1)[entry] += h
                up = float(total_loss(values))
                values[key].view(-1)[entry] -= 2 * h
                down = float(total_loss(values))
                numeric = (up - down) / (2 * h)
                analytic = float(grad.reshape(-1)[entry])
                # Floored at 1e-4: the difference quotient carries ~1e-10 of float64 rounding noise.
                error = abs(numeric - analytic) / max(1e-4, abs(numeric), abs(analytic))
                worst = max(worst, error)
                if error > 1e-5:
                    failures.append(f'{name} {key}[{entry}]: autograd {analytic:.9g}, finite difference {numeric:.9g}')
        print(f'finite differences {name}: worst relative error {worst:.2e} over {3 * len(grads)} entries')

    # 2. The lower-leaky backward against its definition.
    x = torch.tensor([-1.0, -0.5, 0.0, 0.0, 0.3, 1.0, 1.5], dtype=torch.float64, requires_grad=True)
    upstream = torch.tensor([-2.0, 3.0, -4.0, 5.0, 6.0, 7.0, 8.0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(LowerLeakyHardSigmoid.apply(x), x, upstream)
    expected = torch.tensor([-0.02, 0.0, -0.04, 0.0, 6.0, 7.0, 0.0], dtype=torch.float64)
    if not torch.allclose(grad, expected):
        failures.append(f'lower-leaky backward {grad.tolist()} != {expected.tolist()}')
    up = upper_leaky(torch.tensor([-1.0, 0.5, 3.0]))
    if not torch.allclose(up, torch.tensor([0.0, 0.5, 1.02])):
        failures.append(f'upper-leaky forward {up.tolist()}')

    # 3. uniform_k_subset: every position routes at least one module, and the number routed is uniform on 1..M.
    generator = torch.Generator().manual_seed(1)
    routing = uniform_k_subset_routing(4, (20000,), generator)
    counts = routing.sum(0)
    frequencies = [float((counts == k).float().mean()) for k in range(0, 5)]
    if frequencies[0] != 0 or any(abs(f - 0.25) > 0.02 for f in frequencies[1:]):
        failures.append(f'uniform_k_subset: P(#routed = 0..4) = {frequencies}')
    print(f'uniform_k_subset over 4 modules: P(#routed = 0..4) = {[round(f, 3) for f in frequencies]}')

    # 4. The schedule's corners (spd's get_scheduled_value).
    schedule = {'start_val': 1.0, 'fn_type': 'cosine', 'warmup_pct': 0.2, 'final_val_frac': 0.1}
    lrs = [scheduled_lr(step, 5, schedule) for step in range(5)]
    expected_lrs = [0.0, 1.0, 0.1 + 0.9 * 0.75, 0.1 + 0.9 * 0.25, 0.1]
    if any(abs(a - b) > 1e-12 for a, b in zip(lrs, expected_lrs)):
        failures.append(f'schedule {lrs} != {expected_lrs}')

    if failures:
        raise SystemExit('FAILED:\n' + '\n'.join(failures))
    print('all checks passed')


def replay(fixtures_dir):
    """Replays every fixture from its files alone (target weights, initial parameters, batches and
    random sources), as a test of another implementation would, and checks it reproduces the recorded
    losses, gradients and parameters: the fixtures hold everything a step needs."""
    from oracle_fixtures import read_safetensors
    failures = []
    for name, _, _ in CASES:
        with open(os.path.join(fixtures_dir, f'{name}.json')) as file:
            record = json.load(file)
        tensors = read_safetensors(os.path.join(fixtures_dir, f'{name}.safetensors'))
        config = record['config']
        model = (Tms if config['model'] == 'tms' else MlpLm)({k: v for k, v in tensors.items() if k.startswith('target.')}, record['modules'])
        order = record['component_parameters'] + record['ci_fn_parameters']
        params = {key: torch.nn.Parameter(tensors[f'initial.{key}'].clone()) for key in order}
        optimizer = torch.optim.AdamW([params[key] for key in order], lr=0.0, betas=tuple(record['adamw']['betas']),
                                      eps=record['adamw']['eps'], weight_decay=record['adamw']['weight_decay'])

        def missing(shape):
            raise KeyError('a random source the fixture does not hold')

        worst = 0.0
        for step in record['steps']:
            s = step['step']
            prefix = f'batch{s}.'
            stored = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix) and k != f'{prefix}input' and not k.endswith('.final')}
            result = spd_losses(model, config, params, tensors[f'{prefix}input'], Sources(stored), {'frac': step['current_frac']},
                                {'rand': missing, 'routing': missing})
            for key, value in result['losses'].items():
                if float(value) != step['losses'][key]:
                    failures.append(f"{name} step {s} {key}: replayed {float(value)!r}, recorded {step['losses'][key]!r}")
            total = sum(loss['coeff'] * result['losses'][loss['name']] for loss in config['losses'])
            total.backward()
            if s == 0:
                for key in order:
                    worst = max(worst, float((params[key].grad - tensors[f'grad0.{key}']).abs().max()))
            torch.nn.utils.clip_grad_norm_([params[key] for key in record['component_parameters']], config['grad_clip_norm_components'])
            torch.nn.utils.clip_grad_norm_([params[key] for key in record['ci_fn_parameters']], config['grad_clip_norm_ci_fns'])
            for group in optimizer.param_groups:
                group['lr'] = step['lr']
            optimizer.step()
            optimizer.zero_grad()
            for key in order:
                worst = max(worst, float((params[key].detach() - tensors[f'step{s}.{key}']).abs().max()))
        if worst > 0:
            failures.append(f'{name}: replayed gradients or parameters differ by up to {worst:.3g}')
        print(f'replayed {name} from its files: losses, step-0 gradients and parameters after {len(record["steps"])} steps identical')
    if failures:
        raise SystemExit('FAILED replay:\n' + '\n'.join(failures))


class _Subscriptable:
    """Stands in for jaxtyping's Float/Int/Bool and typing's Literal in annotations."""

    def __getitem__(self, item):
        return object


class _Einops:
    """The two einops calls spd's components.py makes, on torch.einsum."""

    @staticmethod
    def einsum(*args):
        *tensors, pattern = args
        letters = {}

        def term(text):
            return ''.join('...' if token == '...' else letters.setdefault(token, 'abcdefghijklmnopqrstuvwxyz'[len(letters)])
                           for token in text.split())

        inputs, output = pattern.split('->')
        return torch.einsum(','.join(term(part) for part in inputs.split(',')) + '->' + term(output), *tensors)

    @staticmethod
    def rearrange(x, pattern):
        return {'... C -> ... C 1': lambda: x.unsqueeze(-1), '... d_in -> ... 1 d_in': lambda: x.unsqueeze(-2)}[pattern]()


def load_spd_definitions(root):
    """Executes the named top-level definitions of spd's source files (a goodfire-ai/spd checkout at
    `root`) with stand-ins for the imports they need, without importing the spd package."""
    import abc
    import ast
    import types
    import typing

    import numpy as np

    namespace = {
        'torch': torch, 'F': F, 'nn': torch.nn, 'np': np, 'math': math, 'Tensor': torch.Tensor, 'Any': typing.Any,
        'Float': _Subscriptable(), 'Int': _Subscriptable(), 'Bool': _Subscriptable(), 'Literal': _Subscriptable(),
        'override': lambda f: f, 'Function': torch.autograd.Function, 'einops': _Einops, 'ABC': abc.ABC,
        'abstractmethod': abc.abstractmethod, 'calculate_gain': torch.nn.init.calculate_gain,
        'get_obj_device': lambda _: torch.device('cpu'), '_NonlinearityType': str, 'TYPE_CHECKING': False,
    }
    for name in ('SamplingType', 'ScheduleConfig', 'LayerwiseCiFnType', 'RoutingMasks', 'Router', 'WeightDeltaAndMask'):
        namespace[name] = object
    wanted = {
        'spd/models/sigmoids.py': ['LowerLeakyHardSigmoidFunction', 'upper_leaky_hard_sigmoid', 'lower_leaky_hard_sigmoid'],
        'spd/routing.py': ['rand_perm', 'sample_uniform_k_subset_routing_masks'],
        'spd/utils/general_utils.py': ['get_scheduled_value', 'calc_kl_divergence_lm', 'calc_sum_recon_loss_lm'],
        'spd/utils/module_utils.py': ['init_param_'],
        'spd/metrics/faithfulness_loss.py': ['_faithfulness_loss_update', '_faithfulness_loss_compute'],
        'spd/metrics/importance_minimality_loss.py': ['_get_linear_annealed_p', '_importance_minimality_loss_update',
                                                      '_importance_minimality_loss_compute'],
        'spd/models/components.py': ['ParallelLinear', 'Linear', 'MLPCiFn', 'VectorMLPCiFn', 'VectorSharedMLPCiFn',
                                     'Components', 'LinearComponents'],
    }
    for path, names in wanted.items():
        with open(os.path.join(root, path)) as file:
            lines = file.read().split('\n')
        for name in names:
            # Cut each definition out by its lines: spd's files use Python 3.12 syntax elsewhere that an
            # older interpreter cannot parse as a whole.
            start = next((i for i, line in enumerate(lines) if line.startswith((f'def {name}(', f'class {name}(', f'class {name}:'))), None)
            if start is None:
                raise SystemExit(f'{path} has no {name}: is {root} a goodfire-ai/spd checkout (dev)?')
            end = start + 1
            while end < len(lines) and (not lines[end] or lines[end][0] in ' \t)#'):
                end += 1
            exec(compile(ast.parse('\n'.join(lines[start:end])), path, 'exec'), namespace)
    return types.SimpleNamespace(**namespace)


def check_against_spd(root):
    """Runs spd's own definitions and this oracle's on the same tensors; they must agree exactly
    (or to float64 rounding)."""
    from types import SimpleNamespace
    spd = load_spd_definitions(root)
    failures = []

    def same(what, ours, theirs, rtol=1e-10):
        ours, theirs = torch.as_tensor(ours).double(), torch.as_tensor(theirs).double()
        if ours.shape != theirs.shape or not torch.allclose(ours, theirs, atol=1e-12, rtol=rtol):
            failures.append(f'{what}: oracle {ours.flatten()[:6].tolist()} vs spd {theirs.flatten()[:6].tolist()}')
        else:
            print(f'agrees with spd: {what}')

    generator = torch.Generator().manual_seed(3)
    x = (3 * torch.rand(400, generator=generator, dtype=torch.float64) - 1).requires_grad_(True)
    x.data[:4] = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    upstream = torch.randn(400, generator=generator, dtype=torch.float64)
    ours = torch.autograd.grad(lower_leaky(x), x, upstream)[0]
    theirs = torch.autograd.grad(spd.lower_leaky_hard_sigmoid(x), x, upstream)[0]
    same('lower-leaky hard sigmoid forward', lower_leaky(x).detach(), spd.lower_leaky_hard_sigmoid(x).detach())
    same('lower-leaky hard sigmoid backward', ours, theirs)
    same('upper-leaky hard sigmoid forward', upper_leaky(x).detach(), spd.upper_leaky_hard_sigmoid(x).detach())
    same('upper-leaky hard sigmoid backward', torch.autograd.grad(upper_leaky(x), x, upstream)[0],
         torch.autograd.grad(spd.upper_leaky_hard_sigmoid(x), x, upstream)[0])

    for n_modules, shape in ((2, (16,)), (5, (3, 7))):
        ours = uniform_k_subset_routing(n_modules, shape, torch.Generator().manual_seed(11))
        theirs = spd.sample_uniform_k_subset_routing_masks(shape, [f'm{i}' for i in range(n_modules)], 'cpu',
                                                             torch.Generator().manual_seed(11))
        same(f'uniform_k_subset routing masks, {n_modules} modules over {shape} (same generator)', ours.float(),
             torch.stack([theirs[f'm{i}'] for i in range(n_modules)]).float())

    for schedule in ({'start_val': 1e-3, 'fn_type': 'cosine', 'warmup_pct': 0.2, 'final_val_frac': 0.1},
                     {'start_val': 1e-2, 'fn_type': 'linear', 'warmup_pct': 0.0, 'final_val_frac': 0.5},
                     {'start_val': 1e-2, 'fn_type': 'constant', 'warmup_pct': 0.25, 'final_val_frac': 1.0}):
        for total in (1, 4, 5, 100):
            ours = [scheduled_lr(step, total, schedule) for step in range(total + 1)]
            theirs = [float(spd.get_scheduled_value(step, total, SimpleNamespace(**schedule))) for step in range(total + 1)]
            same(f"lr schedule {schedule['fn_type']} warm-up {schedule['warmup_pct']} over {total} steps", ours, theirs)

    ci_upper = {name: upper_leaky(2 * torch.randn(4, 5, 6, generator=generator, dtype=torch.float64)) for name in ('a', 'b')}
    for loss in ({'pnorm': 2.0, 'beta': 0.0, 'p_anneal_start_frac': 0.0, 'p_anneal_final_p': 0.3, 'p_anneal_end_frac': 1.0},
                 {'pnorm': 1.0, 'beta': 0.5, 'p_anneal_start_frac': 0.25, 'p_anneal_final_p': 0.5, 'p_anneal_end_frac': 0.75},
                 {'pnorm': 2.0, 'beta': 0.5, 'p_anneal_start_frac': 1.0, 'p_anneal_final_p': None, 'p_anneal_end_frac': 1.0}):
        for frac in (0.0, 0.3, 0.5, 0.9):
            sums, n = spd._importance_minimality_loss_update(ci_upper, loss['pnorm'], 1e-12, loss['p_anneal_start_frac'],
                                                             loss['p_anneal_final_p'], loss['p_anneal_end_frac'], frac)
            theirs = spd._importance_minimality_loss_compute(sums, n, loss['beta'], 1)
            # spd sums into a float32 scalar (torch.tensor(0.0)), hence rtol 1e-6 here and for faithfulness.
            same(f'importance minimality {loss} at frac {frac}', importance_minimality(ci_upper, {**loss, 'eps': 1e-12}, frac), theirs, 1e-6)

    deltas = {name: torch.randn(3, 4, generator=generator, dtype=torch.float64) for name in ('a', 'b')}
    same('faithfulness', faithfulness(deltas), spd._faithfulness_loss_compute(*spd._faithfulness_loss_update(deltas)), 1e-6)

    pred, target = torch.randn(2, 3, 7, generator=generator, dtype=torch.float64), torch.randn(2, 3, 7, generator=generator, dtype=torch.float64)
    for kind in ('kl', 'mse'):
        same(f'{kind} reconstruction sum', recon_sum(pred, target, kind)[0], spd.calc_sum_recon_loss_lm(pred, target, kind))

    # Components: spd keeps W [d_out, d_in] and Delta = W - (V U)^T; the oracle W [d_in, d_out] and Delta = W - V U.
    d_in, d_out, C, hidden = 7, 5, 9, 4
    torch.manual_seed(5)
    theirs_components = spd.LinearComponents(C, d_in, d_out, bias=torch.randn(d_out, dtype=torch.float64)).double()
    V, U, bias = theirs_components.V.detach(), theirs_components.U.detach(), theirs_components.bias
    W = torch.randn(d_in, d_out, generator=generator, dtype=torch.float64)
    xs = torch.randn(2, 3, d_in, generator=generator, dtype=torch.float64)
    mask = torch.rand(2, 3, C, generator=generator, dtype=torch.float64)
    delta_mask = torch.rand(2, 3, generator=generator, dtype=torch.float64)
    same('components weight (V U)^T', (V @ U).t(), theirs_components.weight.detach())
    theirs = theirs_components(xs, mask=mask, weight_delta_and_mask=(W.t() - theirs_components.weight.detach(), delta_mask))
    same('masked component forward with the delta component', component_forward(xs, V, U, bias, mask, W - V @ U, delta_mask), theirs.detach())
    same('masked component forward without it', component_forward(xs, V, U, bias, mask, None, None), theirs_components(xs, mask=mask).detach())

    for kind, make in (('mlp', lambda: spd.MLPCiFn(C, [hidden])), ('vector_mlp', lambda: spd.VectorMLPCiFn(C, d_in, [hidden])),
                       ('shared_mlp', lambda: spd.VectorSharedMLPCiFn(C, d_in, [hidden]))):
        fn = make().double()
        first, last = fn.layers[0], fn.layers[2]
        params = {'m.ci.in.W': first.W.detach(), 'm.ci.in.b': torch.randn(first.b.shape, generator=generator, dtype=torch.float64),
                  'm.ci.out.W': last.W.detach(), 'm.ci.out.b': torch.randn(last.b.shape, generator=generator, dtype=torch.float64)}
        with torch.no_grad():
            first.b.copy_(params['m.ci.in.b'])
            last.b.copy_(params['m.ci.out.b'])
        theirs = fn(xs @ V if kind == 'mlp' else xs).detach()
        same(f'{kind} CI function output', ci_pre_sigmoid(kind, params, 'm', xs, V), theirs)
        shapes = [shape for _, shape, _ in ci_parameter_shapes(kind, d_in, C, hidden)]
        if shapes != [tuple(first.W.shape), tuple(first.b.shape), tuple(last.W.shape), tuple(last.b.shape)]:
            failures.append(f'{kind} CI parameter shapes {shapes} differ from spd')
        # Initialisation: the same normal standard deviations, on large instances.
        big = {'mlp': lambda: spd.MLPCiFn(4096, [16]), 'vector_mlp': lambda: spd.VectorMLPCiFn(256, 64, [16]),
               'shared_mlp': lambda: spd.VectorSharedMLPCiFn(4096, 64, [16])}[kind]()
        for (suffix, shape, std), tensor in zip(ci_parameter_shapes(kind, 64, big.layers[0].W.shape[0] if kind != 'shared_mlp' else 4096, 16),
                                                 [big.layers[0].W, big.layers[0].b, big.layers[2].W, big.layers[2].b]):
            measured = float(tensor.detach().std()) if std else float(tensor.detach().abs().max())
            if (std and abs(measured / std - 1) > 0.05) or (not std and measured != 0):
                failures.append(f'{kind} {suffix}: spd initialises with std {measured:.4g}, the oracle with {std:.4g}')
    big = spd.LinearComponents(512, 256, 128)
    for name, tensor, std in (('V', big.V, 1 / math.sqrt(256)), ('U', big.U, 1 / math.sqrt(512))):
        if abs(float(tensor.detach().std()) / std - 1) > 0.05:
            failures.append(f'components {name}: spd std {float(tensor.std()):.4g}, oracle {std:.4g}')
    print('agrees with spd: CI-function and component initialisation (standard deviations within 5%)' if not any(
        'initialises' in f or 'components V' in f or 'components U' in f for f in failures) else 'initialisation differs')

    if failures:
        raise SystemExit('FAILED against spd:\n' + '\n'.join(failures))
    print(f'all checks against {root} passed')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('mode', choices=['fixtures', 'check'])
    parser.add_argument('--out', help='fixtures: the output folder')
    parser.add_argument('--fixtures', help='check: also replay the fixtures in this folder from their files alone')
    parser.add_argument('--spd-source', help='check: also run spd\'s own definitions from this goodfire-ai/spd checkout (dev) and compare')
    args = parser.parse_args()
    if args.mode == 'fixtures':
        if not args.out:
            parser.error('fixtures needs --out DIR')
        write_fixtures(args.out)
    else:
        check()
        if args.fixtures:
            replay(args.fixtures)
        if args.spd_source:
            check_against_spd(args.spd_source)


if __name__ == '__main__':
    main()
