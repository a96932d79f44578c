"""A PyTorch twin of the SPD runs in examples/spd-tms and examples/spd-resid-mlp: the same target
weights (the target-weights.json an example writes), the same settings, trained as goodfire-ai/spd's
run_spd.py trains them, and scored by the same measures as the examples' report.md.

Run with a torch (1.13 is enough) that can import bench/pytorch/spd_step.py:

  /usr/bin/python3 bench/pytorch/spd_toy_twin.py examples/spd-tms/results/target-weights.json --steps 1500 --batch 256 --eval-every 250 --out twin.json

What it follows (docs DECOMPOSITIONS.md 5b; spd_step.py holds the step, the losses and the sigmoids):
- spd's yaml per toy: TMS 40-10 (`tms_40-10_config.yaml`: C 200, importance minimality 1e-4 with p 2,
  stochastic and layerwise recon 1, no faithfulness loss, cosine lr 1e-3 to 0) and the residual MLP
  (`resid_mlp1_config.yaml`: C 100, 1e-5, p 2, constant lr 2e-3); `mlp` CI functions [16], leaky-hard
  sigmoids, the delta component, one continuous mask sample, no gradient clipping, AdamW wd 0.
- The faithfulness warm-up (`run_faithfulness_warmup`): 200 steps of AdamW(lr 1e-2, wd 0.1) on the
  component parameters, minimising the faithfulness loss.
- The TMS's tied components as `run_spd.optimize` ties them (`tied_weights`, tms_decomposition.py, for a
  target trained with tied weights, as both of spd's TMS targets are): linear2's U and V are *separate*
  Parameters whose storage is linear1's V and U transposed, so both the warm-up's AdamW and the main
  AdamW apply two updates per step to the shared tensors, each with its own moments (`--tie spd`).
  `--tie sum` makes it one Parameter used in both places (one update with the summed gradient, as
  @nnd/spd's `tied_weights` does); `--tie none` leaves linear2's components untied.
- The step loop runs steps + 1 iterations with the last one not stepping (spd logs/evaluates it), lr from
  get_scheduled_value(step, steps); the data is spd's SparseFeatureDataset (at_least_zero_active).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

from spd_step import TargetModel, Sources, ci_pre_sigmoid, draws, faithfulness, lower_leaky, scheduled_lr, spd_losses

CI_HIDDEN = 16


class Tms(TargetModel):
    output_loss = 'mse'

    def forward(self, x, hook=None):
        hidden = self.linear('linear1', x, hook)
        return F.relu(self.linear('linear2', hidden, hook))


class ResidMlp(TargetModel):
    """spd's ResidMLP with one layer, no biases, ReLU: residual = x W_E; residual += mlp_out(relu(mlp_in(residual))); out = residual W_E^T."""

    output_loss = 'mse'

    def forward(self, x, hook=None):
        residual = x @ self.tensors['W_E']
        layers = sorted({name.split('.')[1] for name in self.by_name})
        for layer in layers:
            hidden = F.relu(self.linear(f'layers.{layer}.mlp_in', residual, hook))
            residual = residual + self.linear(f'layers.{layer}.mlp_out', hidden, hook)
        return residual @ self.tensors['W_E'].t()


def load_target(path, C):
    with open(path) as file:
        spec = json.load(file)
    t = lambda rows: torch.tensor(rows, dtype=torch.float32)
    if spec['kind'] == 'tms':
        W = t(spec['W'])  # [features, hidden], x @ W
        tensors = {'linear1.W': W, 'linear2.W': W.t().contiguous(), 'linear2.b': t(spec['b'])}
        features, hidden = W.shape
        modules = [
            {'name': 'linear1', 'weight': 'linear1.W', 'bias': None, 'd_in': features, 'd_out': hidden, 'C': C},
            {'name': 'linear2', 'weight': 'linear2.W', 'bias': 'linear2.b', 'd_in': hidden, 'd_out': features, 'C': C},
        ]
        return Tms(tensors, modules), spec
    tensors = {'W_E': t(spec['W_E'])}
    modules = []
    for layer, weights in enumerate(spec['layers']):
        for part in ('mlp_in', 'mlp_out'):
            name = f'layers.{layer}.{part}'
            tensors[f'{name}.W'] = t(weights[part])
            d_in, d_out = tensors[f'{name}.W'].shape
            modules.append({'name': name, 'weight': f'{name}.W', 'bias': None, 'd_in': d_in, 'd_out': d_out, 'C': C})
    return ResidMlp(tensors, modules), spec


def init_params(model, generator, tie):
    """spd's init (V ~ N(0, 1/d_in), U ~ N(0, 1/C); CI first layers N(0, 2/fan_in), last N(0, 1/fan_in), biases 0).
    Returns (params, component Parameters in optimiser order, CI Parameters)."""
    params, components, ci = {}, [], []
    randn = lambda shape, std: torch.nn.Parameter(torch.randn(*shape, generator=generator) * std)
    for module in model.modules:
        name, d_in, d_out, C = module['name'], module['d_in'], module['d_out'], module['C']
        if tie != 'none' and name == 'linear2':
            if tie == 'spd':
                # run_spd.optimize: tgt.U.data = src.V.data.T; tgt.V.data = src.U.data.T (shared storage, separate Parameters).
                params['linear2.V'] = torch.nn.Parameter(params['linear1.U'].data.t())
                params['linear2.U'] = torch.nn.Parameter(params['linear1.V'].data.t())
                components += [params['linear2.V'], params['linear2.U']]
            continue
        params[f'{name}.V'] = randn((d_in, C), 1 / math.sqrt(d_in))
        params[f'{name}.U'] = randn((C, d_out), 1 / math.sqrt(C))
        components += [params[f'{name}.V'], params[f'{name}.U']]
    for module in model.modules:
        name, C = module['name'], module['C']
        for key, shape, std in (('in.W', (C, 1, CI_HIDDEN), math.sqrt(2)), ('in.b', (C, CI_HIDDEN), 0), ('out.W', (C, CI_HIDDEN, 1), 1 / math.sqrt(CI_HIDDEN)), ('out.b', (C, 1), 0)):
            params[f'{name}.ci.{key}'] = randn(shape, std) if std else torch.nn.Parameter(torch.zeros(shape))
            ci.append(params[f'{name}.ci.{key}'])
    return params, components, ci


def resolved(params, tie):
    """The params spd_losses reads: with --tie sum, linear2's V and U are linear1's U and V transposed (one tensor)."""
    if tie != 'sum' or 'linear1.V' not in params:
        return params
    return {**params, 'linear2.V': params['linear1.U'].t(), 'linear2.U': params['linear1.V'].t()}


def sparse_batch(generator, batch, features, probability, low, high):
    values = torch.rand((batch, features), generator=generator) * (high - low) + low
    return values * (torch.rand((batch, features), generator=generator) < probability)


def single_feature_ci(model, params, magnitude=0.75):
    features = model.modules[0]['d_in'] if isinstance(model, Tms) else model.tensors['W_E'].shape[0]
    x = torch.eye(features) * magnitude
    inputs = {}

    def cache(name, x_in, out):
        inputs[name] = x_in
        return out

    with torch.no_grad():
        model.forward(x, cache)
        return {m['name']: torch.clamp(ci_pre_sigmoid('mlp', params, m['name'], inputs[m['name']], params[f"{m['name']}.V"]), 0, 1) for m in model.modules}


def identity_order(rows):
    used, order = set(), []
    for row in rows[: rows.shape[1]]:
        best = max((c for c in range(rows.shape[1]) if c not in used), key=lambda c: (row[c], -c))
        order.append(best)
        used.add(best)
    return order + [c for c in range(rows.shape[1]) if c not in used]


def summarise(rows):
    """The examples' table: features captured, features with their own component, IdentityCIError, alive on one-hot inputs."""
    above = [set((row > 0.5).nonzero().flatten().tolist()) for row in rows]
    users = {}
    for columns in above:
        for column in columns:
            users[column] = users.get(column, 0) + 1
    own = sum(1 for columns in above if len(columns) == 1 and users[next(iter(columns))] == 1)
    ordered = rows[:, identity_order(rows)]
    errors = 0
    for feature in range(rows.shape[0]):
        for column in range(rows.shape[1]):
            value = float(ordered[feature, column])
            errors += (value < 0.9) if column == feature else (value > 0.1)
    return {'featuresCaptured': sum(1 for columns in above if columns), 'featuresWithOwnComponent': own,
            'identityCiError': int(errors), 'aliveOnOneHot': int((rows > 0.1).any(0).sum())}


def column_matches(W, V, U):
    """@nnd/spd's columnMatches: per feature row W[j], the subcomponent V[j, c] U[c, :] with the highest cosine, and its L2 ratio."""
    u_norm = U.norm(dim=1)
    cos = (V * (U @ W.t()).t()) / (V.abs() * u_norm * W.norm(dim=1)[:, None]).clamp_min(1e-30)
    best = cos.argmax(1)
    rows = torch.arange(W.shape[0])
    ratio = V[rows, best].abs() * u_norm[best] / W.norm(dim=1)
    return {'mmcs': float(cos[rows, best].mean()), 'ml2r': float(ratio.mean())}


def evaluate(model, params, spec, generator, probability, value_range):
    scored = {name: summarise(rows) for name, rows in single_feature_ci(model, params).items()}
    features = model.modules[0]['d_in'] if spec['kind'] == 'tms' else model.tensors['W_E'].shape[0]
    x = sparse_batch(generator, 4096, features, probability, *value_range)
    inputs = {}

    def cache(name, x_in, out):
        inputs[name] = x_in
        return out

    with torch.no_grad():
        model.forward(x, cache)
        l0 = {m['name']: float((torch.clamp(ci_pre_sigmoid('mlp', params, m['name'], inputs[m['name']], params[f"{m['name']}.V"]), 0, 1) > 0.1).float().sum(-1).mean()) for m in model.modules}
    result = {'modules': scored, 'ci_l0': l0}
    if spec['kind'] == 'tms':
        result.update(column_matches(model.tensors['linear1.W'], params['linear1.V'].detach(), params['linear1.U'].detach()))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('target', help='target-weights.json written by examples/spd-tms or examples/spd-resid-mlp')
    parser.add_argument('--steps', type=int, default=1500)
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--C', type=int, default=None, help='components per matrix (200 for the TMS, 100 for the residual MLP)')
    parser.add_argument('--importance', type=float, default=None, help='importance-minimality coefficient (1e-4 TMS, 1e-5 residual MLP)')
    parser.add_argument('--pnorm', type=float, default=2.0)
    parser.add_argument('--lr', type=float, default=None, help='1e-3 cosine to 0 for the TMS, 2e-3 constant for the residual MLP')
    parser.add_argument('--schedule', default=None, choices=['cosine', 'constant', 'linear'])
    parser.add_argument('--tie', default='spd', choices=['spd', 'sum', 'none'], help="the TMS's tied components (see the module docstring)")
    parser.add_argument('--warmup-steps', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--eval-every', type=int, default=0, help='score every N steps as well as at the end')
    parser.add_argument('--out', default=None, help='write the result as JSON here')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()

    probe, spec = load_target(args.target, 1)
    tms = spec['kind'] == 'tms'
    C = args.C or (200 if tms else 100)
    model, _ = load_target(args.target, C)
    tie = args.tie if tms else 'none'
    importance = args.importance if args.importance is not None else (1e-4 if tms else 1e-5)
    lr = args.lr or (1e-3 if tms else 2e-3)
    schedule = {'start_val': lr, 'fn_type': args.schedule or ('cosine' if tms else 'constant'), 'warmup_pct': 0.0, 'final_val_frac': 0.0 if tms else 1.0}
    probability, value_range = (0.05, (0.0, 1.0)) if tms else (0.01, (-1.0, 1.0))
    features = model.modules[0]['d_in'] if tms else model.tensors['W_E'].shape[0]
    config = {'ci_fn': 'mlp', 'use_delta_component': True, 'n_mask_samples': 1, 'losses': [
        {'name': 'stochastic_recon', 'coeff': 1.0},
        {'name': 'stochastic_recon_layerwise', 'coeff': 1.0},
        {'name': 'importance_minimality', 'coeff': importance, 'pnorm': args.pnorm, 'beta': 0.0, 'eps': 1e-12},
    ]}

    generator = torch.Generator().manual_seed(args.seed)
    params, components, ci_params = init_params(model, generator, tie)

    # run_faithfulness_warmup
    warm = torch.optim.AdamW(components, lr=1e-2, weight_decay=0.1)
    for _ in range(args.warmup_steps):
        warm.zero_grad()
        p = resolved(params, tie)
        loss = faithfulness({m['name']: model.weight(m['name']) - p[f"{m['name']}.V"] @ p[f"{m['name']}.U"] for m in model.modules})
        loss.backward()
        warm.step()

    eval_generator = torch.Generator().manual_seed(args.seed + 1000)
    history = []
    at_init = evaluate(model, resolved(params, tie), spec, torch.Generator().manual_seed(args.seed + 1000), probability, value_range)
    optimizer = torch.optim.AdamW(components + ci_params, lr=lr, weight_decay=0.0)
    draw = draws(generator)
    for step in range(args.steps + 1):
        optimizer.zero_grad()
        for group in optimizer.param_groups:
            group['lr'] = scheduled_lr(step, args.steps, schedule)
        x = sparse_batch(generator, args.batch, features, probability, *value_range)
        result = spd_losses(model, config, resolved(params, tie), x, Sources(), {'frac': step / args.steps}, draw)
        total = sum(loss['coeff'] * result['losses'][loss['name']] for loss in config['losses'])
        total.backward()
        if args.eval_every and step % args.eval_every == 0:
            scored = evaluate(model, resolved(params, tie), spec, torch.Generator().manual_seed(args.seed + 1000), probability, value_range)
            entry = {'step': step, 'seconds': round(time.time() - started, 1), 'loss': float(total), **{k: float(v) for k, v in result['losses'].items()}, **scored}
            history.append(entry)
            print(json.dumps({'step': step, 'seconds': entry['seconds'], 'loss': entry['loss'],
                              'own': {k: v['featuresWithOwnComponent'] for k, v in scored['modules'].items()},
                              'ci_l0': scored['ci_l0'], **({'mmcs': scored['mmcs'], 'ml2r': scored['ml2r']} if tms else {})}), flush=True)
        if step != args.steps:
            optimizer.step()
    final = evaluate(model, resolved(params, tie), spec, eval_generator, probability, value_range)
    out = {'target': args.target, 'steps': args.steps, 'batch': args.batch, 'C': C, 'importance_minimality_coeff': importance,
           'lr': schedule, 'tie': tie, 'seconds': round(time.time() - started, 1), 'torch': torch.__version__,
           'at_init': at_init, 'trained': final, 'history': history}
    print(json.dumps({k: out[k] for k in ('steps', 'batch', 'tie', 'seconds')} | {'trained': final}, indent=1))
    if args.out:
        with open(args.out, 'w') as file:
            json.dump(out, file, indent=1)
            file.write('\n')


if __name__ == '__main__':
    main()
