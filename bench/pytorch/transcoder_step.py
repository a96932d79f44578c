"""A PyTorch oracle for transcoder training: known-answer fixtures for nnd's tests, and the
comparison for `pnpm bench transcoder-pytorch`.

Written from the specification (docs DECOMPOSITIONS.md sections 0-2, after
bartbussmann/nn_decompositions `transcoder.py`, `training.py`), including the reference's
quirks that nnd must match:
- the auxiliary loss's residual is not detached; a feature is dead for the auxiliary loss when
  its counter is >= n_batches_to_dead, but is counted in num_dead_features only when > it;
- the counters are updated in the forward pass, before the auxiliary loss reads them;
- JumpReLU passes the derivative with respect to the threshold to log_threshold (no chain-rule
  factor theta); its L0 (and sparsity loss) is the Step function's sum;
- pre_enc_bias subtracts b_dec from the input only when input_size == output_size;
- input_unit_norm standardises input and target separately (unbiased std, + 1e-5) and the loss
  is on the standardised target;
- TopK and BatchTopK encoders add b_enc before the ReLU;
- a step is forward, backward, clip_grad_norm_, decoder projection, Adam, zero_grad.
The skip connection (not in the reference; Paulo et al. 2025) adds x @ W_skip^T to the output,
where x is the (standardised) input without the pre-encoder bias; W_skip [d_out, d_in] starts at 0.

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

TYPES = ('vanilla', 'topk', 'batchtopk', 'jumprelu')


def rectangle(u):
    # The rectangle kernel of the JumpReLU pseudo-derivative: 1 on the open interval (-1/2, 1/2).
    return ((u > -0.5) & (u < 0.5)).float()


class JumpRelu(torch.autograd.Function):
    """a = p * 1[p > theta], theta = exp(log_threshold). d/dp = 1[p > theta]; d/dlog_threshold is
    the derivative with respect to theta, -(theta/eps) K((p - theta)/eps), as the reference passes it."""

    @staticmethod
    def forward(ctx, pre, log_threshold, bandwidth):
        threshold = torch.exp(log_threshold)
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return pre * (pre > threshold).float()

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        bandwidth = ctx.bandwidth
        grad_pre = (pre > threshold).float() * grad
        grad_threshold = -(threshold / bandwidth) * rectangle((pre - threshold) / bandwidth) * grad
        return grad_pre, grad_threshold.sum(0), None


class Step(torch.autograd.Function):
    """1[p > theta]; d/dp = 0; d/dlog_threshold = -(1/eps) K((p - theta)/eps) (again without theta)."""

    @staticmethod
    def forward(ctx, pre, log_threshold, bandwidth):
        threshold = torch.exp(log_threshold)
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).float()

    @staticmethod
    def backward(ctx, grad):
        pre, threshold = ctx.saved_tensors
        bandwidth = ctx.bandwidth
        grad_threshold = -(1.0 / bandwidth) * rectangle((pre - threshold) / bandwidth) * grad
        return torch.zeros_like(pre), grad_threshold.sum(0), None


def standardise(values):
    mean = values.mean(dim=-1, keepdim=True)
    centred = values - mean
    return centred / (centred.std(dim=-1, keepdim=True) + 1e-5)


class Transcoder(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        d_in, d_out, features = config['input_size'], config['output_size'], config['dict_size']
        torch.manual_seed(config['seed'])
        # Creation order as the reference's (b_dec, b_enc, W_enc, W_dec): it fixes the RNG draws.
        self.b_dec = torch.nn.Parameter(torch.zeros(d_out))
        self.b_enc = torch.nn.Parameter(torch.zeros(features))
        self.W_enc = torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(d_in, features)))
        self.W_dec = torch.nn.Parameter(torch.nn.init.kaiming_uniform_(torch.empty(features, d_out)))
        if d_in == d_out:
            self.W_dec.data[:] = self.W_enc.t().data
        self.W_dec.data[:] = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True)
        if config['skip']:
            self.W_skip = torch.nn.Parameter(torch.zeros(d_out, d_in))
        if config['encoder_type'] == 'jumprelu':
            self.log_threshold = torch.nn.Parameter(torch.zeros(features))
        self.num_batches_not_active = torch.zeros(features)

    def forward(self, x, y):
        config = self.config
        kind = config['encoder_type']
        if config['input_unit_norm']:
            x, y = standardise(x), standardise(y)
        use_pre_enc_bias = config['pre_enc_bias'] and config['input_size'] == config['output_size']
        x_enc = x - self.b_dec if use_pre_enc_bias else x
        pre = x_enc @ self.W_enc + self.b_enc
        dense = F.relu(pre)
        if kind == 'vanilla':
            acts = dense
        elif kind == 'topk':
            top = torch.topk(dense, config['top_k'], dim=-1)
            acts = torch.zeros_like(dense).scatter(-1, top.indices, top.values)
        elif kind == 'batchtopk':
            top = torch.topk(dense.flatten(), config['top_k'] * x.shape[0], dim=-1)
            acts = torch.zeros_like(dense.flatten()).scatter(-1, top.indices, top.values).reshape(dense.shape)
        else:
            acts = JumpRelu.apply(dense, self.log_threshold, config['bandwidth'])
        y_pred = acts @ self.W_dec + self.b_dec
        if config['skip']:
            y_pred = y_pred + x @ self.W_skip.t()

        # Updated before the auxiliary loss reads them, as in the reference.
        active = acts.sum(0) > 0
        self.num_batches_not_active += (~active).float()
        self.num_batches_not_active[active] = 0

        out = {'l2_loss': (y_pred - y).pow(2).mean()}
        if kind == 'jumprelu':
            out['l0_norm'] = Step.apply(dense, self.log_threshold, config['bandwidth']).sum(-1).mean()
            out['sparsity_loss'] = config['l1_coeff'] * out['l0_norm']
        else:
            out['l0_norm'] = (acts > 0).float().sum(-1).mean()
            out['l1_loss'] = config['l1_coeff'] * acts.abs().sum(-1).mean()
        if kind in ('topk', 'batchtopk'):
            out['aux_loss'], out['aux_margin'] = self.auxiliary_loss(y, y_pred, dense)
        out['loss'] = out['l2_loss'] + sum(out[key] for key in ('l1_loss', 'aux_loss', 'sparsity_loss') if key in out)
        out['l1_norm'] = acts.abs().sum(-1).mean()
        out['num_dead_features'] = (self.num_batches_not_active > config['n_batches_to_dead']).sum()
        out['n_dead_in_batch'] = (acts.sum(0) == 0).sum()
        out['pre'], out['dense'] = pre, dense
        return out

    def auxiliary_loss(self, y, y_pred, dense):
        dead = self.num_batches_not_active >= self.config['n_batches_to_dead']
        n_dead = int(dead.sum())
        if n_dead == 0:
            return torch.tensor(0.0), float('inf')
        residual = y - y_pred  # not detached, as in the reference
        dense_dead = dense[:, dead]
        k = min(self.config['top_k_aux'], n_dead)
        top = torch.topk(dense_dead, k, dim=-1)
        acts_aux = torch.zeros_like(dense_dead).scatter(-1, top.indices, top.values)
        y_aux = acts_aux @ self.W_dec[dead]
        return self.config['aux_penalty'] * (y_aux - residual).pow(2).mean(), topk_margin(dense_dead.detach(), k)

    @torch.no_grad()
    def make_decoder_weights_and_grad_unit_norm(self):
        # Rows of W_dec stay unit norm, so the gradient's radial part is removed before Adam.
        normed = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True)
        self.W_dec.grad -= (self.W_dec.grad * normed).sum(-1, keepdim=True) * normed
        self.W_dec.data = normed


def optimizer_for(model, config):
    return torch.optim.Adam(model.parameters(), lr=config['lr'], betas=(config['beta1'], config['beta2']), eps=1e-8)


# ---------------------------------------------------------------- fixtures

BASE = {
    'encoder_type': 'topk', 'input_size': 16, 'output_size': 12, 'dict_size': 64, 'batch_size': 32, 'seed': 49,
    'top_k': 4, 'top_k_aux': 8, 'aux_penalty': 1 / 32, 'l1_coeff': 0.0, 'bandwidth': 0.001, 'n_batches_to_dead': 1,
    'input_unit_norm': False, 'pre_enc_bias': False, 'lr': 1e-3, 'beta1': 0.9, 'beta2': 0.99, 'max_grad_norm': 1.0,
    'skip': False,
}

# (name, what it exercises, config overrides, data options)
CASES = [
    ('vanilla', 'ReLU encoder with the L1 penalty; inputs far off-centre so that some features never fire and '
     'num_dead_features (counter > 1) is non-zero from step 2; no clipping',
     {'encoder_type': 'vanilla', 'l1_coeff': 0.01, 'max_grad_norm': 1000.0}, {'offset': 2.0}),
    ('topk', 'per-row top-k; features that never fire, so the auxiliary loss (residual not detached) is on from step 1; no clipping',
     {'max_grad_norm': 1000.0}, {}),
    ('batchtopk', 'top k*B over the flattened batch; auxiliary loss; a small L1 term; clipping active',
     {'encoder_type': 'batchtopk', 'l1_coeff': 0.001}, {}),
    ('jumprelu', 'JumpReLU and the Step L0 with their log-threshold pseudo-gradients (pre-activations planted inside the '
     'bandwidth window on both sides of the threshold); clipping active',
     {'encoder_type': 'jumprelu', 'l1_coeff': 0.01, 'n_batches_to_dead': 2}, {'scale': 2.0, 'plant_window': True}),
    ('topk_skip', 'topk with the skip connection W_skip (zeros at init, learns from step 1); clipping active',
     {'skip': True}, {}),
    ('jumprelu_skip', 'jumprelu with the skip connection',
     {'encoder_type': 'jumprelu', 'l1_coeff': 0.01, 'n_batches_to_dead': 2, 'skip': True}, {'scale': 2.0, 'plant_window': True}),
    ('topk_unit_norm', 'input_unit_norm: input and target standardised separately, the loss on the standardised target',
     {'input_unit_norm': True}, {'target_scale': 5.0}),
    ('topk_square', 'input_size == output_size: W_dec initialised from W_enc^T, and pre_enc_bias subtracts b_dec from the input',
     {'input_size': 16, 'output_size': 16, 'pre_enc_bias': True, 'max_grad_norm': 1000.0}, {}),
]

N_STEPS = 4
# Distances below which float32 rounding in another implementation could flip a decision
# (a top-k choice, a threshold or window comparison, a ReLU at zero); batches are redrawn until clear.
DECISION_MARGIN = 1e-5
RELU_MARGIN = 1e-6
METRICS = ('loss', 'l2_loss', 'l1_loss', 'aux_loss', 'sparsity_loss', 'l0_norm', 'l1_norm', 'num_dead_features', 'n_dead_in_batch')


class CaseData:
    """Inputs with a shared offset (so features whose encoder points away from it never fire) and
    targets that are a fixed nonlinear function of them plus noise, as an MLP's output would be."""

    def __init__(self, config, options, seed):
        self.generator = torch.Generator().manual_seed(seed)
        d_in, d_out = config['input_size'], config['output_size']
        self.scale = options.get('scale', 1.0)
        self.target_scale = options.get('target_scale', 1.0)
        self.offset = options.get('offset', 0.6) * self.randn(d_in)
        self.mixing = self.randn(d_in, d_out) / d_in ** 0.5
        self.target_offset = 0.5 * self.randn(d_out)

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.generator)

    def batch(self, batch_size):
        x = self.scale * (self.randn(batch_size, self.offset.numel()) + self.offset)
        y = self.target_scale * (torch.tanh(x @ self.mixing) + self.target_offset + 0.1 * self.randn(batch_size, self.mixing.shape[1]))
        return x, y


@torch.no_grad()
def plant_window_hits(model, x, n_rows):
    """Moves rows of x so that one pre-activation each lies 2e-4 above or below its threshold:
    inside the JumpReLU bandwidth window (half-width 5e-4), so the log-threshold gradients are non-zero."""
    threshold = torch.exp(model.log_threshold)
    for row in range(n_rows):
        feature = (7 * row + 3) % model.config['dict_size']
        column = model.W_enc[:, feature]
        target = threshold[feature] + (2e-4 if row % 2 == 0 else -2e-4)
        pre = x[row] @ column + model.b_enc[feature]
        x[row] += column * (target - pre) / column.dot(column)
    return x


def margins(model, out):
    config = model.config
    kind = config['encoder_type']
    dense = out['dense'].detach()
    result = {'relu': preactivation_margin(out['pre'].detach())}
    if kind == 'topk':
        result['topk'] = topk_margin(dense, config['top_k'])
    if kind == 'batchtopk':
        result['topk'] = topk_margin(dense.flatten(), config['top_k'] * dense.shape[0])
    if 'aux_margin' in out:
        result['aux_topk'] = out['aux_margin']
    if kind == 'jumprelu':
        threshold = torch.exp(model.log_threshold.detach())
        half = config['bandwidth'] / 2
        result['threshold'] = boundary_margin(dense, [threshold])
        result['window'] = boundary_margin(dense, [threshold - half, threshold + half])
    return result


def margins_clear(found):
    return found['relu'] > RELU_MARGIN and all(value > DECISION_MARGIN for key, value in found.items() if key != 'relu')


def generate_case(name, overrides, options, data_seed):
    config = {**BASE, **overrides}
    model = Transcoder(config)
    optimizer = optimizer_for(model, config)
    data = CaseData(config, options, data_seed)
    names = [parameter_name for parameter_name, _ in model.named_parameters()]
    tensors = {f'initial.{key}': value.detach().clone() for key, value in model.named_parameters()}
    tensors['initial_state.num_batches_not_active'] = model.num_batches_not_active.clone()
    steps = []
    for step in range(1, N_STEPS + 1):
        counters = model.num_batches_not_active.clone()
        for attempt in range(100):
            model.num_batches_not_active = counters.clone()
            x, y = data.batch(config['batch_size'])
            if options.get('plant_window'):
                x = plant_window_hits(model, x, 6)
            out = model(x, y)
            found = margins(model, out)
            if margins_clear(found):
                break
        else:
            raise RuntimeError(f'{name} step {step}: no batch with clear decision margins in 100 draws')
        tensors[f'batch{step - 1}.input'] = x
        tensors[f'batch{step - 1}.target'] = y
        metrics = {key: float(out[key]) for key in METRICS if key in out}
        grad_norm, raw_grads = training_step(model, optimizer, out['loss'], config['max_grad_norm'], keep_raw_grads=True)
        if step == 1:
            tensors.update({f'grad1.{key}': value for key, value in raw_grads.items()})
        tensors.update({f'step{step}.{key}': value.detach().clone() for key, value in model.named_parameters()})
        tensors[f'step{step}.num_batches_not_active'] = model.num_batches_not_active.clone()
        steps.append({'step': step, **metrics, 'grad_norm': grad_norm, 'clipped': grad_norm > config['max_grad_norm'],
                      'redraws': attempt, 'margins': found})
    return config, names, tensors, steps


def write_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for index, (name, description, overrides, options) in enumerate(CASES):
        data_seed = 1000 + index
        config, names, tensors, steps = generate_case(name, overrides, options, data_seed)
        write_safetensors(os.path.join(out_dir, f'{name}.safetensors'), tensors,
                          {'generator': 'bench/pytorch/transcoder_step.py', 'case': name, 'torch': torch.__version__})
        record = {
            'case': name, 'description': description, 'generator': 'bench/pytorch/transcoder_step.py fixtures',
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
    config = {**BASE, 'encoder_type': args.type, 'input_size': args.d_in, 'output_size': args.d_out,
              'dict_size': args.dict_size, 'batch_size': args.batch, 'top_k': args.k, 'top_k_aux': 512,
              'aux_penalty': args.aux_penalty, 'l1_coeff': l1_coeff, 'n_batches_to_dead': 5, 'lr': 3e-4,
              'max_grad_norm': 1.0, 'skip': args.skip}
    model = Transcoder(config)
    optimizer = optimizer_for(model, config)
    generator = torch.Generator().manual_seed(0)
    # Two pre-drawn batches, alternated, as nnd's bench does.
    batches = [(torch.randn(args.batch, args.d_in, generator=generator), torch.randn(args.batch, args.d_out, generator=generator))
               for _ in range(2)]

    def step(index):
        x, y = batches[index % 2]
        out = model(x, y)
        training_step(model, optimizer, out['loss'], config['max_grad_norm'])
        return float(out['loss'])

    samples = time_steps(step, args.warmup, args.steps, f'transcoder {args.type}')
    result = summarise(samples)
    print(f"pytorch {torch.__version__} transcoder {args.type}: {result['ms_per_step']:.0f} ms per step median "
          f"({', '.join(f'{s:.0f}' for s in samples)}), peak RSS {result['peak_rss_mb']:.0f} MB, {torch.get_num_threads()} threads")
    print(json.dumps({
        'benchmark': 'transcoder-pytorch', 'type': args.type, 'skip': args.skip, 'torch': torch.__version__,
        'threads': torch.get_num_threads(), 'd_in': args.d_in, 'd_out': args.d_out, 'dict_size': args.dict_size,
        'batch': args.batch, 'k': args.k, 'steps': args.steps, **result,
        'tokens_per_s': args.batch / (result['ms_per_step'] / 1000),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('mode', choices=['fixtures', 'bench'])
    parser.add_argument('--out', help='fixtures: the output folder')
    parser.add_argument('--type', default='topk', choices=TYPES)
    parser.add_argument('--d-in', type=int, default=768)
    parser.add_argument('--d-out', type=int, default=768)
    parser.add_argument('--dict-size', type=int, default=12288)
    parser.add_argument('--batch', type=int, default=4096)
    parser.add_argument('--k', type=int, default=32)
    parser.add_argument('--aux-penalty', type=float, default=1 / 32)
    parser.add_argument('--l1-coeff', type=float, default=None)
    parser.add_argument('--skip', action='store_true')
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
