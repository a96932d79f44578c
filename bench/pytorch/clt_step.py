"""A PyTorch oracle for cross-layer transcoder (CLT) training: known-answer fixtures for nnd's
tests, and the comparison for `pnpm bench clt-pytorch`.

Written from the specification (docs DECOMPOSITIONS.md section 3a, after
bartbussmann/nn_decompositions `clt.py`, `training.py`). The reference's choices that nnd must match:
- n source layers, each with its own encoder W_enc[i] [d_in, F], b_enc[i] [F] and a triangular
  decoder W_dec[i] [n-i, F, d_out] (W_dec[i][j-i] writes source i's features to target layer j);
  one b_dec[j] [d_out] per target layer; y_hat[j] = b_dec[j] + sum_{i<=j} a_i @ W_dec[i][j-i];
- every decoder vector (source, target, feature) is kept at unit norm, and the gradient's radial
  part is removed before Adam;
- batchtopk keeps the top k*B of each source layer separately; jumprelu has one log-threshold
  vector per source layer (JumpReLU/Step pseudo-gradients as the transcoder's, without the factor theta);
- l2 = mean over target layers of each layer's per-element mean; L0 (count of non-zero
  activations, also for jumprelu) and L1 are over the concatenation of all layers' activations;
- the auxiliary loss is computed per source layer that has dead features, against the residual
  (not detached) at that same layer with the same-layer decoder W_dec[i][0], and averaged over
  those layers; the JumpReLU sparsity loss is l1_coeff times the mean over layers of each layer's Step L0;
- one dead counter per layer (>= n_batches_to_dead for the auxiliary loss, > for the logged
  num_dead_features, summed over layers), updated during encoding.

Modes:
  fixtures --out DIR   writes DIR/<case>.safetensors and DIR/<case>.json for every case
  bench --type T ...   times a training step; prints JSON as its last stdout line
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

from oracle_fixtures import (boundary_margin, preactivation_margin, summarise, time_steps, topk_margin,
                             training_step, write_safetensors)
from transcoder_step import TYPES, CaseData, JumpRelu, Step


class CrossLayerTranscoder(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        n, d_in, d_out, features = config['n_layers'], config['input_size'], config['output_size'], config['dict_size']
        torch.manual_seed(config['seed'])
        # Creation order as the reference's (W_enc, b_enc, W_dec, b_dec, thresholds): it fixes the RNG draws.
        self.W_enc = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(d_in, features))) for _ in range(n)])
        self.b_enc = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(features)) for _ in range(n)])
        self.W_dec = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(n - i, features, d_out))) for i in range(n)])
        for decoder in self.W_dec:
            decoder.data[:] = decoder.data / decoder.data.norm(dim=-1, keepdim=True)
        self.b_dec = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(d_out)) for _ in range(n)])
        if config['encoder_type'] == 'jumprelu':
            self.log_threshold = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(features)) for _ in range(n)])
        self.num_batches_not_active = [torch.zeros(features) for _ in range(n)]

    def encode_layer(self, x, layer):
        config = self.config
        kind = config['encoder_type']
        pre = x @ self.W_enc[layer] + self.b_enc[layer]
        dense = F.relu(pre)
        if kind == 'vanilla':
            acts = dense
        elif kind == 'topk':
            top = dense.topk(config['top_k'], dim=-1)
            acts = torch.zeros_like(dense).scatter(-1, top.indices, top.values)
        elif kind == 'batchtopk':
            top = dense.flatten().topk(config['top_k'] * x.shape[0], dim=-1)
            acts = torch.zeros_like(dense.flatten()).scatter(-1, top.indices, top.values).reshape(dense.shape)
        else:
            acts = JumpRelu.apply(dense, self.log_threshold[layer], config['bandwidth'])
        return pre, dense, acts

    def forward(self, inputs, targets):
        config = self.config
        n, kind = config['n_layers'], config['encoder_type']
        pres, denses, all_acts = [], [], []
        for layer in range(n):
            pre, dense, acts = self.encode_layer(inputs[layer], layer)
            pres.append(pre), denses.append(dense), all_acts.append(acts)
            counter = self.num_batches_not_active[layer]
            active = acts.sum(0) > 0
            counter += (~active).float()
            counter[active] = 0

        reconstructions = []
        for target_layer in range(n):
            reconstruction = self.b_dec[target_layer].unsqueeze(0).expand(all_acts[0].shape[0], -1).clone()
            for source in range(target_layer + 1):
                reconstruction = reconstruction + all_acts[source] @ self.W_dec[source][target_layer - source]
            reconstructions.append(reconstruction)

        per_layer_l2 = [(reconstruction - target).pow(2).mean() for reconstruction, target in zip(reconstructions, targets)]
        out = {'l2_loss': torch.stack(per_layer_l2).mean(), 'per_layer_l2': per_layer_l2}
        acts_cat = torch.cat(all_acts, dim=-1)
        out['l0_norm'] = (acts_cat != 0).float().sum(-1).mean()
        out['l1_norm'] = acts_cat.abs().sum(-1).mean()
        if kind == 'jumprelu':
            total_l0 = torch.tensor(0.0)
            for layer in range(n):
                total_l0 = total_l0 + Step.apply(denses[layer], self.log_threshold[layer], config['bandwidth']).sum(-1).mean()
            out['sparsity_loss'] = config['l1_coeff'] * total_l0 / n
        else:
            out['l1_loss'] = config['l1_coeff'] * acts_cat.abs().sum(-1).mean()
        if kind in ('topk', 'batchtopk'):
            out['aux_loss'], out['aux_margin'] = self.auxiliary_loss(denses, targets, reconstructions)
        out['loss'] = out['l2_loss'] + sum(out[key] for key in ('l1_loss', 'aux_loss', 'sparsity_loss') if key in out)
        out['num_dead_features'] = sum((counter > config['n_batches_to_dead']).sum() for counter in self.num_batches_not_active)
        out['n_dead_in_batch'] = (acts_cat.sum(0) == 0).sum()
        out['pres'], out['denses'] = pres, denses
        return out

    def auxiliary_loss(self, denses, targets, reconstructions):
        config = self.config
        total = torch.tensor(0.0)
        contributing = 0
        margin = float('inf')
        for layer in range(config['n_layers']):
            dead = self.num_batches_not_active[layer] >= config['n_batches_to_dead']
            n_dead = int(dead.sum())
            if n_dead == 0:
                continue
            residual = targets[layer] - reconstructions[layer]  # not detached, as in the reference
            dense_dead = denses[layer][:, dead]
            k = min(config['top_k_aux'], n_dead)
            top = dense_dead.topk(k, dim=-1)
            acts_aux = torch.zeros_like(dense_dead).scatter(-1, top.indices, top.values)
            y_aux = acts_aux @ self.W_dec[layer][0][dead]
            total = total + (y_aux - residual).pow(2).mean()
            contributing += 1
            margin = min(margin, topk_margin(dense_dead.detach(), k))
        if contributing == 0:
            return torch.tensor(0.0), margin
        return config['aux_penalty'] * total / contributing, margin

    @torch.no_grad()
    def make_decoder_weights_and_grad_unit_norm(self):
        # Every (source, target, feature) decoder vector stays unit norm, so the gradient's radial part is removed before Adam.
        for decoder in self.W_dec:
            normed = decoder / decoder.norm(dim=-1, keepdim=True)
            decoder.grad -= (decoder.grad * normed).sum(-1, keepdim=True) * normed
            decoder.data = normed


def optimizer_for(model, config):
    return torch.optim.Adam(model.parameters(), lr=config['lr'], betas=(config['beta1'], config['beta2']), eps=1e-8)


# ---------------------------------------------------------------- fixtures

BASE = {
    'encoder_type': 'topk', 'n_layers': 3, 'input_size': 16, 'output_size': 16, 'dict_size': 32, 'batch_size': 32,
    'seed': 49, 'top_k': 4, 'top_k_aux': 3, 'aux_penalty': 1 / 32, 'l1_coeff': 0.0, 'bandwidth': 0.001,
    'n_batches_to_dead': 1, 'lr': 1e-3, 'beta1': 0.9, 'beta2': 0.99, 'max_grad_norm': 1.0,
}

# (name, what it exercises, config overrides, data options)
CASES = [
    ('vanilla', 'ReLU encoders with the L1 penalty over all layers; some features never fire; not clipped',
     {'encoder_type': 'vanilla', 'l1_coeff': 0.01, 'max_grad_norm': 1000.0}, {'offset': 2.0}),
    ('topk', 'per-row top-k in each layer; layer 0\'s batches make every feature fire, so the auxiliary loss is the '
     'mean over layers 1 and 2 only (the layers with dead features); not clipped',
     {'max_grad_norm': 1000.0}, {'cover_layer0': True}),
    ('batchtopk', 'top k*B per source layer; auxiliary loss; a small L1 term; clipped',
     {'encoder_type': 'batchtopk', 'l1_coeff': 0.001}, {}),
    ('jumprelu', 'per-layer JumpReLU thresholds and the layer-averaged Step sparsity loss, with pre-activations planted '
     'inside each layer\'s bandwidth window; clipped',
     {'encoder_type': 'jumprelu', 'l1_coeff': 0.01, 'n_batches_to_dead': 2}, {'scale': 2.0, 'plant_window': True}),
    ('topk_n1', 'one layer: the same configuration, initial parameters and batches as the transcoder fixture `topk`, '
     'so its steps equal that transcoder\'s',
     {'n_layers': 1, 'input_size': 16, 'output_size': 12, 'dict_size': 64, 'top_k_aux': 8, 'max_grad_norm': 1000.0}, {'transcoder_data': True}),
]

N_STEPS = 4
DECISION_MARGIN = 1e-5
RELU_MARGIN = 1e-6
METRICS = ('loss', 'l2_loss', 'l1_loss', 'aux_loss', 'sparsity_loss', 'l0_norm', 'l1_norm', 'num_dead_features', 'n_dead_in_batch')


class LayerData:
    """Per layer, inputs as the transcoder fixtures draw them; the target at layer j mixes the
    inputs of layers <= j, as an MLP output downstream of earlier layers would."""

    def __init__(self, config, options, seed):
        self.n = config['n_layers']
        self.layers = [CaseData(config, options, seed * 100 + layer) for layer in range(self.n)]
        generator = torch.Generator().manual_seed(seed)
        self.cross = [torch.randn(config['input_size'], config['output_size'], generator=generator) / config['input_size'] ** 0.5
                      for _ in range(self.n)]

    def batch(self, batch_size):
        pairs = [layer.batch(batch_size) for layer in self.layers]
        inputs = [x for x, _ in pairs]
        targets = [y + (0.5 * torch.tanh(inputs[j - 1] @ self.cross[j]) if j > 0 else 0) for j, (_, y) in enumerate(pairs)]
        return inputs, targets


class TranscoderData:
    """The transcoder fixture `topk`'s batches (its CaseData and seed), for the one-layer case."""

    def __init__(self, config, options, seed):
        from transcoder_step import CASES as TRANSCODER_CASES
        index = [name for name, *_ in TRANSCODER_CASES].index('topk')
        self.data = CaseData(config, TRANSCODER_CASES[index][3], 1000 + index)

    def batch(self, batch_size):
        x, y = self.data.batch(batch_size)
        return [x], [y]


@torch.no_grad()
def plant_window_hits(model, inputs, n_rows):
    """In each layer, moves rows so that one pre-activation each lies 2e-4 above or below its
    threshold, inside the bandwidth window (half-width 5e-4): the log-threshold gradients are non-zero."""
    for layer, x in enumerate(inputs):
        threshold = torch.exp(model.log_threshold[layer])
        for row in range(n_rows):
            feature = (7 * row + 3 + layer) % model.config['dict_size']
            column = model.W_enc[layer][:, feature]
            target = threshold[feature] + (2e-4 if row % 2 == 0 else -2e-4)
            pre = x[row] @ column + model.b_enc[layer][feature]
            x[row] += column * (target - pre) / column.dot(column)
    return inputs


@torch.no_grad()
def cover_layer0(model, inputs):
    """Points row f of layer 0's batch along feature f's encoder vector (plus the drawn input, scaled
    down), so that every layer-0 feature is in some row's top k and layer 0 has no dead features."""
    x = inputs[0]
    for row in range(x.shape[0]):
        column = model.W_enc[0][:, row % model.config['dict_size']]
        x[row] = 0.3 * x[row] + 3.0 * column / column.norm()
    return inputs


def margins(model, out):
    config = model.config
    kind = config['encoder_type']
    result = {'relu': min(preactivation_margin(pre.detach()) for pre in out['pres'])}
    denses = [dense.detach() for dense in out['denses']]
    if kind == 'topk':
        result['topk'] = min(topk_margin(dense, config['top_k']) for dense in denses)
    if kind == 'batchtopk':
        result['topk'] = min(topk_margin(dense.flatten(), config['top_k'] * dense.shape[0]) for dense in denses)
    if 'aux_margin' in out:
        result['aux_topk'] = out['aux_margin']
    if kind == 'jumprelu':
        half = config['bandwidth'] / 2
        thresholds = [torch.exp(log_threshold.detach()) for log_threshold in model.log_threshold]
        result['threshold'] = min(boundary_margin(dense, [t]) for dense, t in zip(denses, thresholds))
        result['window'] = min(boundary_margin(dense, [t - half, t + half]) for dense, t in zip(denses, thresholds))
    return result


def margins_clear(found):
    return found['relu'] > RELU_MARGIN and all(value > DECISION_MARGIN for key, value in found.items() if key != 'relu')


def generate_case(name, overrides, options, data_seed):
    config = {**BASE, **overrides}
    config['layers'] = list(range(config['n_layers']))
    model = CrossLayerTranscoder(config)
    optimizer = optimizer_for(model, config)
    data = (TranscoderData if options.get('transcoder_data') else LayerData)(config, options, data_seed)
    n = config['n_layers']

    def state(prefix):
        tensors = {f'{prefix}.{key}': value.detach().clone() for key, value in model.named_parameters()}
        tensors.update({f'{prefix}.num_batches_not_active.{layer}': model.num_batches_not_active[layer].clone() for layer in range(n)})
        return tensors

    names = [parameter_name for parameter_name, _ in model.named_parameters()]
    tensors = {key.replace('initial.num_batches', 'initial_state.num_batches'): value for key, value in state('initial').items()}
    steps = []
    for step in range(1, N_STEPS + 1):
        counters = [counter.clone() for counter in model.num_batches_not_active]
        for attempt in range(100):
            model.num_batches_not_active = [counter.clone() for counter in counters]
            inputs, targets = data.batch(config['batch_size'])
            if options.get('plant_window'):
                inputs = plant_window_hits(model, inputs, 6)
            if options.get('cover_layer0'):
                inputs = cover_layer0(model, inputs)
            out = model(inputs, targets)
            found = margins(model, out)
            if margins_clear(found):
                break
        else:
            raise RuntimeError(f'{name} step {step}: no batch with clear decision margins in 100 draws')
        for layer in range(n):
            tensors[f'batch{step - 1}.input.{layer}'] = inputs[layer]
            tensors[f'batch{step - 1}.target.{layer}'] = targets[layer]
        metrics = {key: float(out[key]) for key in METRICS if key in out}
        metrics['per_layer_l2'] = [float(value) for value in out['per_layer_l2']]
        grad_norm, raw_grads = training_step(model, optimizer, out['loss'], config['max_grad_norm'], keep_raw_grads=True)
        if step == 1:
            tensors.update({f'grad1.{key}': value for key, value in raw_grads.items()})
        tensors.update(state(f'step{step}'))
        steps.append({'step': step, **metrics, 'grad_norm': grad_norm, 'clipped': grad_norm > config['max_grad_norm'],
                      'redraws': attempt, 'margins': found})
    return config, names, tensors, steps


def write_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for index, (name, description, overrides, options) in enumerate(CASES):
        data_seed = 2000 + index
        config, names, tensors, steps = generate_case(name, overrides, options, data_seed)
        write_safetensors(os.path.join(out_dir, f'{name}.safetensors'), tensors,
                          {'generator': 'bench/pytorch/clt_step.py', 'case': name, 'torch': torch.__version__})
        record = {
            'case': name, 'description': description, 'generator': 'bench/pytorch/clt_step.py fixtures',
            'torch': torch.__version__, 'data_seed': data_seed, 'config': config, 'parameters': names,
            'adam_eps': 1e-8, 'steps': steps,
        }
        with open(os.path.join(out_dir, f'{name}.json'), 'w') as file:
            json.dump(record, file, indent=1)
            file.write('\n')
        summary = ', '.join(f"s{s['step']}: loss {s['loss']:.4g} aux {s.get('aux_loss', 0):.3g} dead {s['num_dead_features']:.0f}"
                            f"/{s['n_dead_in_batch']:.0f} |g| {s['grad_norm']:.3g}{'*' if s['clipped'] else ''}" for s in steps)
        print(f'{name}: {summary}')


# ---------------------------------------------------------------- bench

def bench(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    l1_coeff = args.l1_coeff if args.l1_coeff is not None else (1e-3 if args.type in ('vanilla', 'jumprelu') else 0.0)
    config = {**BASE, 'encoder_type': args.type, 'n_layers': args.layers, 'input_size': args.d_model,
              'output_size': args.d_model, 'dict_size': args.dict_size, 'batch_size': args.batch, 'top_k': args.k,
              'top_k_aux': 512, 'aux_penalty': args.aux_penalty, 'l1_coeff': l1_coeff, 'n_batches_to_dead': 5,
              'lr': 3e-4, 'max_grad_norm': 1.0}
    model = CrossLayerTranscoder(config)
    optimizer = optimizer_for(model, config)
    generator = torch.Generator().manual_seed(0)
    # Two pre-drawn sets of per-layer batches, alternated, as nnd's benches do.
    batches = [([torch.randn(args.batch, args.d_model, generator=generator) for _ in range(args.layers)],
                [torch.randn(args.batch, args.d_model, generator=generator) for _ in range(args.layers)]) for _ in range(2)]

    def step(index):
        inputs, targets = batches[index % 2]
        out = model(inputs, targets)
        training_step(model, optimizer, out['loss'], config['max_grad_norm'])
        return float(out['loss'])

    samples = time_steps(step, args.warmup, args.steps, f'clt {args.type}')
    result = summarise(samples)
    print(f"pytorch {torch.__version__} clt {args.type}: {result['ms_per_step']:.0f} ms per step median "
          f"({', '.join(f'{s:.0f}' for s in samples)}), peak RSS {result['peak_rss_mb']:.0f} MB, {torch.get_num_threads()} threads")
    print(json.dumps({
        'benchmark': 'clt-pytorch', 'type': args.type, 'torch': torch.__version__, 'threads': torch.get_num_threads(),
        'layers': args.layers, 'd_model': args.d_model, 'dict_size': args.dict_size, 'batch': args.batch, 'k': args.k,
        'steps': args.steps, **result, 'tokens_per_s': args.batch / (result['ms_per_step'] / 1000),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('mode', choices=['fixtures', 'bench'])
    parser.add_argument('--out', help='fixtures: the output folder')
    parser.add_argument('--type', default='batchtopk', choices=TYPES)
    parser.add_argument('--layers', type=int, default=4)
    parser.add_argument('--d-model', type=int, default=768)
    parser.add_argument('--dict-size', type=int, default=4096)
    parser.add_argument('--batch', type=int, default=4096)
    parser.add_argument('--k', type=int, default=16)
    parser.add_argument('--aux-penalty', type=float, default=1 / 32)
    parser.add_argument('--l1-coeff', type=float, default=None)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=0, help='0: torch default')
    args = parser.parse_args()
    if args.mode == 'fixtures':
        if not args.out:
            parser.error('fixtures needs --out DIR')
        write_fixtures(args.out)
    else:
        bench(args)


if __name__ == '__main__':
    main()
