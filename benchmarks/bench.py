"""Benchmarks: the suite against what a user would otherwise run, measured side by side.

    make bench        # installs the optional PyTorch extra if it can, then runs this script
    python benchmarks/bench.py [--quick]

Writes benchmarks/results.json and benchmarks/RESULTS.md (machine, versions, date). It reads and
writes nothing else (no figure, no cache). What it measures:

* SGD throughput on the paper's Figure 2 protocol (K = 5, n = 5, d = 2, 10 examples, batch 1;
  dropout keep 1/2, weight decay 1/2 on every parameter, or neither; momentum 0.5 with Torch7
  dampening; lr 0.01 / (1 + 1e-5 t)), in model-steps per second, at 150, 1,500 and 15,000 models
  (10, 100 and 1,000 runs of the protocol's 15 networks), for our engine
  (sgd.training.train, runs split over every device) and for the strongest PyTorch peers we know:
  every model in one set of batched tensors (no Python loop over models), float32, in-place
  updates; autograd eager and under ``torch.compile``, and the gradient written out by hand with
  the whole step under ``torch.compile`` (see bench_torch_batched). Each timed after a warm-up,
  repeated, medians reported. Two
  one-model-at-a-time loops (eager PyTorch with nn.Dropout and optim.SGD; one jitted JAX step
  driven from Python) are timed on 15 models for context.
* Set-up: building the protocol's runs (initial networks, data, keys, regimes;
  experiments.shared.parity_protocol.protocol_runs) for 10, 100 and 1,000 runs, first call (compilation
  included, as a user meets it).
* Exact J_D: the subset-sum route (theory.exact._split_moments) against the same engine evaluating
  every pattern on its own (theory.exact.delta_moments with split_route=False) on a d = 3 network (K = 4, n = 20,
  50 examples, 2^24 patterns); and on a small network (K = 4, n = 6, d = 3) against a vectorised
  enumeration of all 2^16 node patterns (theory.enumeration, NumPy) and Monte Carlo run until its
  standard error is 1e-3 of the value.
* Random bits: a step's draws with the masks in 1-bit fields against 32-bit words.
* Dropout's cost per step (issue 27, part 5): the same 1,500 Figure 2 models with dropout and
  without, in our engine and in batched eager PyTorch.
* The roofline (benchmarks/roofline.py): the machine's peak float64 and 32-bit integer rates,
  measured on data in registers, and the Figure 2 step's operations give a bound in model-steps per
  second; the engine's fraction of it is reported at every size.

`make all`'s and `make test`'s wall times are not measured here (timing `make all` would rewrite the
committed figures); the README gives them as measured on a fresh clone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks"
NPROC = os.cpu_count() or 1
# Every CPU core as a JAX device (as `make all` does), set before JAX is imported.
os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={NPROC}")

import jax  # noqa: E402
import numpy as np  # noqa: E402

import roofline  # noqa: E402  (benchmarks/roofline.py, beside this script)
import theory  # noqa: E402
from experiments.shared import parity_protocol  # noqa: E402
from sgd import kernel  # noqa: E402
from sgd.training import Schedule, noisy_loss, run_noise, train  # noqa: E402
from theory.enumeration import brute_force_criterion  # noqa: E402
from theory.exact import delta_moments, penalty_from_moments  # noqa: E402
from theory.network import as_params, random_network, widths  # noqa: E402
from theory.noise import as_noise, draw_raw  # noqa: E402

K, N_HIDDEN, N_EXAMPLES = parity_protocol.K, parity_protocol.N_HIDDEN, parity_protocol.N_EXAMPLES
NETWORKS_PER_RUN = 15                         # 5 scales x 3 regimes, Torch7 momentum
MODEL_COUNTS = (150, 1_500, 15_000)
# Model-steps each timing covers. Ours: ten times the paper's protocol at 150 models, 1.2-1.6 s a
# timing. The peers, by size: their best (the hand gradient, compiled) ran at about 2.4 / 6.7 / 8.7
# M model-steps/s (2026-12-02), so about a second a timing at 150 models and 1.1-1.5 s at the
# others; eager autograd at 150 models (0.6 M/s) takes about 5 s. Until 2026-12-02, 15 M and 1.5 M:
# timings of about 0.2 s, which moved by up to 30% between two runs and put the ratio at 1,500
# models on either side of its goal.
ENGINE_MODEL_STEPS = 150_000_000
PEER_MODEL_STEPS = {150: 3_000_000, 1_500: 10_000_000, 15_000: 10_000_000}


def sgd_steps(models: int, quick: bool) -> tuple:
    """(our steps, the peers' steps) for ``models`` Figure 2 models; a smoke run times ours on a
    thousandth and the peers on 20 steps."""
    if quick:
        return max(ENGINE_MODEL_STEPS // models // 1000, 10), 20
    return ENGINE_MODEL_STEPS // models, PEER_MODEL_STEPS[models] // models
SETUP_RUNS = (10, 100, 1_000)


def _log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _median_time(fn, repeats, warmup=None):
    (warmup or fn)()                                   # warm-up (compilation, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def protocol(runs):
    """The Figure 2 protocol's networks as the paper ran them: runs x 5 scales x 3 regimes (Torch7
    momentum, weight decay on every parameter), from experiments/shared/parity_protocol.py."""
    regimes = {name: parity_protocol.REGIMES[name] for name in ("dropout", "weight_decay_biases", "none")}
    _, keys, params, X, Y, regime = parity_protocol.protocol_runs(runs, regimes, {"torch7": 0.5})
    return keys, params, X, Y, regime


def _throughput(models, steps, median, times, **extra):
    return {"models": models, "steps": steps, "seconds": median, "times": times,
            "model_steps_per_s": models * steps / median, **extra}


def bench_engine(models, steps, repeats):
    keys, params, X, Y, regime = models
    schedule = Schedule(steps=steps, log_every=min(steps, 1000))

    def run():      # runs split over every device however small the call (as a sweep would be)
        jax.block_until_ready(train(keys, params, X, Y, regime, schedule, split_above=0))

    return _throughput(keys.shape[0], steps, *_median_time(run, repeats))


def bench_random_bits(repeats):
    """What a step's random numbers cost, per model-step, on one engine tile (sgd.kernel.LANES
    runs) of the Figure 2 protocol at keep 1/2, compiled with the engine's options
    (theory.compile_options.RANDOM_HEAVY): the example and both masks drawn by
    sgd.kernel.chunk_draws for 20,000 steps (about 25 ms; runs of 1,000 steps scattered by 2x on
    Zen 3), with the masks in 1-bit fields (the engine's rule at p = 1/2) and in whole 32-bit words
    (the rule before fields, which 32-bit keep probabilities still use), and the integer operations
    each counts (roofline.step_operations)."""
    from theory.compile_options import RANDOM_HEAVY, long_running_jit
    keys, params, X, Y, regime = protocol(kernel.LANES // NETWORKS_PER_RUN + 1)
    lanes, steps = kernel.LANES, 20_000
    spec = run_noise(params)
    tile_X, tile_Y = (jax.numpy.moveaxis(a[:lanes], 0, -1) for a in (X, Y))
    key = jax.numpy.asarray(np.random.default_rng(0).integers(0, 2 ** 32, (2, lanes),
                                                              dtype=np.uint32))
    keep = jax.numpy.full((50, 2, lanes), 0.5)
    out = {}
    for name, width in (("packed_fields", 1), ("words_32_bit", 32)):
        bits = jax.numpy.full((2, lanes), width, jax.numpy.int32)

        @long_running_jit(options=RANDOM_HEAVY)
        def draw_all(key):
            def chunk(total, start):
                x, y, masks = kernel.chunk_draws(spec, key, start + jax.numpy.arange(50), keep,
                                                 tile_X, tile_Y, [K, N_HIDDEN], [N_HIDDEN, 1],
                                                 ((width,), (width,)), bits)
                return total + x.sum() + y.sum() + sum(m.sum() for m in masks), None
            return jax.lax.scan(chunk, 0.0, 50 * jax.numpy.arange(steps // 50))[0]

        median, times = _median_time(lambda: jax.block_until_ready(draw_all(key)), repeats)
        out[name] = {"ns_per_model_step": 1e9 * median / (lanes * steps), "times": times}
    return out


PEERS = ("torch_eager", "torch_compiled", "torch_hand_gradient")
"""The batched PyTorch peers (see :func:`bench_torch_batched`); the ratio is against the best."""


def bench_torch_batched(models, steps, repeats, mode, draw_masks=True):
    """Every model in one set of tensors ((M, n, K) weights), one example and one pair of masks per
    model per step (both masks from one ``torch.rand``), float32, in-place updates. The layout is
    the one that suits PyTorch's CPU kernels here: a broadcast multiply and a sum over the 5 inputs
    rather than einsum or bmm over 5 x 5 matrices (1.2-1.5x faster on the project's earlier 2-core
    machine). Modes:

    * ``torch_eager`` / ``torch_compiled``: autograd through the batched forward pass, momentum and
      weight decay by ``torch._foreach_*`` in place; compiled: the loss (forward and backward,
      through AOTAutograd) and the update under ``torch.compile``;
    * ``torch_hand_gradient``: the gradient written out by hand, as our engine does, and the whole
      step (draws, forward, backward, update) one ``torch.compile``d function: Inductor fuses it
      into loops over the models.

    ``draw_masks=False``: no dropout modules, so no masks are drawn (what a network without dropout
    costs in PyTorch; the models' keep probabilities must all be 1).
    """
    import torch
    keys, params, X, Y, regime = models
    count = keys.shape[0]

    def tensor(a, grad=False):
        return torch.tensor(np.asarray(a), dtype=torch.float32).requires_grad_(grad)

    W1, b1, W2, b2 = (tensor(leaf, grad=mode != "torch_hand_gradient")
                      for layer in params for leaf in layer)
    inputs, labels, models_index = tensor(X), tensor(Y), torch.arange(count)
    keep, lam, damp, decay_biases = (tensor(getattr(regime, f)) for f in
                                     ("keep_prob", "lam", "dampening", "decay_biases"))
    lr = torch.tensor(0.01)              # a tensor: torch.compile would specialise on a float

    if not draw_masks and not bool(torch.all(keep == 1)):
        raise ValueError("draw_masks=False needs every model's keep probability to be 1")
    ones = torch.ones(count, K + N_HIDDEN)

    def draws():
        index = torch.randint(N_EXAMPLES, (count,))
        masks = (torch.rand(count, K + N_HIDDEN) < keep[:, None]) / keep[:, None] if draw_masks \
            else ones
        return inputs[models_index, index] * masks[:, :K], masks[:, K:], labels[models_index, index]

    if mode == "torch_hand_gradient":
        weights = [W1, b1, W2[:, 0].clone(), b2[:, 0].clone()]
        velocity = [torch.zeros_like(p) for p in weights]
        shape = [(-1, 1, 1), (-1, 1), (-1, 1), (-1,)]
        decay = [lam.view(s) * (decay_biases.view(s) if i % 2 else 1)      # biases: odd
                 for i, s in enumerate(shape)]
        scale = [(1 - damp).view(s) for s in shape]

        def hand_step(W1, b1, w2, b2, v1, vb1, v2, vb2, lr):
            x, mask_hidden, y = draws()
            z = (W1 * x[:, None, :]).sum(-1) + b1
            a = torch.relu(z) * mask_hidden
            delta = 2 * ((w2 * a).sum(-1) + b2 - y)
            dz = torch.where(z > 0, w2 * delta[:, None] * mask_hidden, 0.0)
            grads = (dz[:, :, None] * x[:, None, :], dz, delta[:, None] * a, delta)
            for p, v, g, wd, sc in zip((W1, b1, w2, b2), (v1, vb1, v2, vb2), grads, decay, scale):
                v.mul_(0.5).add_(sc * (g + wd * p))
                p.sub_(lr * v)

        compiled_step = torch.compile(hand_step)

        def step(t):
            lr.fill_(0.01 / (1 + 1e-5 * t))
            compiled_step(*weights, *velocity, lr)
    else:
        weights = [W1, b1, W2, b2]
        velocity = [torch.zeros_like(p) for p in weights]
        decay = [lam.view(-1, *[1] * (p.dim() - 1)) * (1 if p.dim() == 3 else decay_biases[:, None])
                 for p in weights]
        scale = [(1 - damp).view(-1, *[1] * (p.dim() - 1)) for p in weights]

        def loss(W1, b1, W2, b2, x, mask_hidden, y):
            h = torch.relu((W1 * x[:, None, :]).sum(-1) + b1) * mask_hidden
            return torch.square((W2[:, 0] * h).sum(-1) + b2[:, 0] - y).sum()

        def update(grads, lr):
            grads = torch._foreach_add(grads, torch._foreach_mul(weights, decay))
            torch._foreach_mul_(grads, scale)
            torch._foreach_mul_(velocity, 0.5)
            torch._foreach_add_(velocity, grads)
            torch._foreach_sub_(weights, torch._foreach_mul(velocity, lr))

        if mode == "torch_compiled":
            loss, update = torch.compile(loss), torch.compile(update)

        def step(t):
            grads = torch.autograd.grad(loss(*weights, *draws()), weights)
            with torch.no_grad():
                lr.fill_(0.01 / (1 + 1e-5 * t))
                update(list(grads), lr)

    def run(num_steps=steps):
        with torch.no_grad() if mode == "torch_hand_gradient" else contextlib.nullcontext():
            for t in range(num_steps):
                step(t)

    median, times = _median_time(run, repeats, warmup=lambda: run(20))
    return _throughput(count, steps, median, times, torch=torch.__version__,
                       threads=torch.get_num_threads(), dtype="float32", mode=mode)


DROPOUT_COST_RUNS = 300         # x 5 scales: 1,500 models of one regime


def bench_dropout_cost(repeats, have_torch, quick=False):
    """Issue 27, part 5: the wall-clock cost per step of dropout, the same 1,500 Figure 2 models
    trained with dropout (keep 1/2 on inputs and hidden nodes) and without (keep 1), in our engine
    and in batched eager PyTorch (which, without dropout, draws no masks)."""
    out = {}
    for regime in ("dropout", "none"):
        _, keys, params, X, Y, per_network = parity_protocol.protocol_runs(
            DROPOUT_COST_RUNS, {regime: parity_protocol.REGIMES[regime]}, {"torch7": 0.5})
        models = (keys, params, X, Y, per_network)
        steps, peer_steps = sgd_steps(keys.shape[0], quick)
        _log(f"dropout's cost per step: {regime}, {keys.shape[0]:,} models")
        out[regime] = {"engine": bench_engine(models, steps, repeats)}
        out[regime]["torch_eager"] = bench_torch_batched(
            models, peer_steps, repeats, "torch_eager", draw_masks=regime == "dropout") \
            if have_torch else {"skipped": "PyTorch not installed"}
    out["time_ratio"] = {
        peer: out["none"][peer]["model_steps_per_s"] / out["dropout"][peer]["model_steps_per_s"]
        for peer in ("engine", "torch_eager") if "model_steps_per_s" in out["none"][peer]}
    return out


def bench_jax_python_loop(models, steps, repeats):
    """jit one SGD step of one model (jax.grad of the noisy loss, momentum by hand); Python loops
    over models and steps (the JAX user's loop)."""
    keys, params, X, Y, regime = models
    noise = run_noise(params)
    depth = len(params[0])

    @jax.jit
    def step(model, velocity, key, t, x, y, reg):
        index_key, noise_key = jax.random.split(jax.random.fold_in(key, t))
        i = jax.random.randint(index_key, (), 0, x.shape[0])
        raw = draw_raw(noise_key, noise, model)
        keep = jax.numpy.broadcast_to(reg.keep_prob, (depth,))
        grads = jax.grad(lambda p: noisy_loss(noise, p, x[i], y[i], raw, keep))(model)
        grads = jax.tree_util.tree_map(lambda g, p: g + reg.lam * p, grads, model)
        velocity = jax.tree_util.tree_map(lambda v, g: 0.5 * v + (1 - reg.dampening) * g,
                                          velocity, grads)
        lr = 0.01 / (1 + 1e-5 * t)
        return jax.tree_util.tree_map(lambda p, v: p - lr * v, model, velocity), velocity

    def run(steps=steps, models=keys.shape[0]):
        for m in range(models):
            model = jax.tree_util.tree_map(lambda a: a[m], params)
            reg = jax.tree_util.tree_map(lambda a: a[m], regime)
            velocity = jax.tree_util.tree_map(jax.numpy.zeros_like, model)
            for t in range(steps):
                model, velocity = step(model, velocity, keys[m], t, X[m], Y[m], reg)
            jax.block_until_ready(model)

    median, times = _median_time(run, repeats, warmup=lambda: run(10, 2))
    return _throughput(keys.shape[0], steps, median, times)


def bench_torch_one_at_a_time(models, steps, repeats):
    """The paper's experiment as a typical PyTorch user writes it: one model at a time."""
    import torch
    from torch import nn
    keys, params, X, Y, regime = models
    X, Y = (torch.tensor(np.asarray(a), dtype=torch.float32) for a in (X, Y))

    def make(m):
        keep, lam = float(regime.keep_prob[m]), float(regime.lam[m])
        net = nn.Sequential(nn.Dropout(p=1 - keep), nn.Linear(K, N_HIDDEN), nn.ReLU(),
                            nn.Dropout(p=1 - keep), nn.Linear(N_HIDDEN, 1))
        with torch.no_grad():
            for layer, (W, b) in zip((net[1], net[4]), params):
                layer.weight.copy_(torch.tensor(np.asarray(W[m])))
                layer.bias.copy_(torch.tensor(np.asarray(b[m])))
        optim = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.5, dampening=0.5,
                                weight_decay=lam)
        schedule = torch.optim.lr_scheduler.LambdaLR(optim, lambda t: 1 / (1 + 1e-5 * t))
        return net, optim, schedule

    def run(steps=steps, models=keys.shape[0]):
        for m in range(models):
            net, optim, schedule = make(m)
            net.train()
            for _ in range(steps):
                i = torch.randint(N_EXAMPLES, (1,))
                optim.zero_grad()
                loss = ((net(X[m, i]).squeeze(-1) - Y[m, i]) ** 2).mean()
                loss.backward()
                optim.step()
                schedule.step()

    median, times = _median_time(run, repeats, warmup=lambda: run(10, 3))
    return _throughput(keys.shape[0], steps, median, times, dtype="float32")


def _exact_criterion(params, X, Y, *, split_route: bool) -> float:
    """J_D at keep 1/2 from the exact engine's moments, by either route of node dropout."""
    noise = as_noise(widths(params), 0.5, "dropout", None)
    f, e1, e2 = delta_moments(params, X, noise, split_route=split_route)
    return float(np.mean(np.square(f - Y) + penalty_from_moments(f, e1, e2, Y)))


def bench_exact_split(quick, repeats):
    """Goal: the subset-sum route at least 5x the per-pattern route on K = 4, n = 20, d = 3."""
    rng = np.random.default_rng(0)
    sizes, examples = [4, 20, 20, 1], 5 if quick else 50
    params = as_params(random_network(rng, sizes, scale=0.3))
    X, Y = rng.normal(size=(examples, 4)), rng.normal(size=examples)
    patterns = theory.num_enumerated_patterns(params)
    split_value = _exact_criterion(params, X, Y, split_route=True)
    split, split_times = _median_time(
        lambda: _exact_criterion(params, X, Y, split_route=True), repeats)
    _log(f"  the per-pattern route on the same network ({patterns:,} patterns)")
    per_pattern_value = _exact_criterion(params, X, Y, split_route=False)
    per_pattern, per_pattern_times = _median_time(
        lambda: _exact_criterion(params, X, Y, split_route=False), 1)
    evaluations = patterns * examples
    return {"network": {"sizes": sizes, "examples": examples, "patterns": patterns},
            "split_seconds": split, "split_times": split_times,
            "per_pattern_seconds": per_pattern, "per_pattern_times": per_pattern_times,
            "split_pattern_examples_per_s": evaluations / split,
            "per_pattern_pattern_examples_per_s": evaluations / per_pattern,
            "values": {"split": split_value, "per_pattern": per_pattern_value},
            "speedup": per_pattern / split}


def bench_exact_small(repeats):
    rng = np.random.default_rng(0)
    sizes = [4, 6, 6, 1]
    params = random_network(rng, sizes)
    X, Y = rng.normal(size=(10, 4)), rng.normal(size=10)
    weights = np.full(10, 0.1)
    ours_value = theory.dropout_criterion(params, X, Y)
    brute_value = brute_force_criterion(params, X, Y, weights, 0.5)
    ours, _ = _median_time(lambda: theory.dropout_criterion(params, X, Y), repeats)
    brute, _ = _median_time(lambda: brute_force_criterion(params, X, Y, weights, 0.5), repeats)
    key = jax.random.key(0)
    _, pilot_se = theory.mc_dropout_criterion(key, params, X, Y, num_samples=10_000)
    target = 1e-3 * ours_value
    samples = int(10_000 * (pilot_se / target) ** 2) + 1
    mc, _ = _median_time(lambda: theory.mc_dropout_criterion(key, params, X, Y,
                                                             num_samples=samples), repeats)
    mc_value, mc_se = theory.mc_dropout_criterion(key, params, X, Y, num_samples=samples)
    return {"network": {"sizes": sizes, "examples": 10, "all_nodes": 16,
                        "full_enumeration_patterns": 2 ** 16, "our_enumerated_patterns": 2 ** 10},
            "ours_seconds": ours, "full_enumeration_seconds": brute, "monte_carlo_seconds": mc,
            "monte_carlo_samples": samples, "monte_carlo_relative_se": mc_se / ours_value,
            "values": {"ours": ours_value, "full_enumeration": brute_value,
                       "monte_carlo": mc_value, "monte_carlo_se": mc_se},
            "exact_vs_full_enumeration": brute / ours, "exact_vs_monte_carlo": mc / ours}


def bench_setup(runs):
    start = time.perf_counter()
    jax.block_until_ready(protocol(runs))
    return time.perf_counter() - start


def machine():
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"python": platform.python_version(), "jax": jax.__version__,
                "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else "",
                "numpy": np.__version__}
    try:
        import torch
        versions["torch"] = torch.__version__
    except ImportError:
        versions["torch"] = "not installed"
    return {"cpu": cpu, "cores": NPROC, "jax_devices": len(jax.local_devices()),
            "platform": platform.platform(), "versions": versions,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _rate(row):
    return f"{row['model_steps_per_s'] / 1e6:.3f}" if "model_steps_per_s" in row else "skipped"


def _sgd_lines(results) -> list:
    sgd = results["sgd"]
    lines = ["## SGD throughput on the Figure 2 protocol, million model-steps per second", "",
             "Every model is a K = 5, n = 5, d = 2 network trained with batch 1 on its own data; 15 "
             "models per run of the protocol (5 input scales x dropout / weight decay / neither). "
             "Ours: float64, scan inside jit, runs split over the JAX devices, one run per vector "
             "lane (sgd/kernel.py). The batched PyTorch peers: float32, all models in one set of "
             "tensors, in-place updates; autograd eager, autograd under torch.compile, and the "
             "gradient written out by hand with the whole step under torch.compile "
             "(benchmarks/bench.py:bench_torch_batched).", "",
             "| models (runs) | steps timed, ours / peers | ours | PyTorch eager | "
             "PyTorch torch.compile | PyTorch hand gradient, compiled | ours / best peer |",
             "|---|---|---|---|---|---|---|"]
    for count in MODEL_COUNTS:
        row = sgd[str(count)]
        ratio = results["sgd_vs_torch_batched"].get(str(count))
        peer = next((row[mode]["steps"] for mode in PEERS if "steps" in row[mode]), None)
        lines.append(f"| {count:,} ({count // NETWORKS_PER_RUN:,}) | {row['engine']['steps']:,} / "
                     + (f"{peer:,}" if peer else "-") + " | "
                     f"{_rate(row['engine'])} | "
                     + " | ".join(_rate(row[mode]) for mode in PEERS) + " | "
                     + (f"{ratio:.1f}x |" if ratio else "PyTorch not installed |"))
    one = sgd["one_at_a_time"]
    return lines + [
        "", "Goal: at least 10x the best batched peer at 150 and 1,500 models, 5x at 15,000.", "",
        f"For context, one model at a time ({one['jax_python_loop']['models']} models x "
        f"{one['jax_python_loop']['steps']} steps): a jitted JAX step driven from Python "
        f"{one['jax_python_loop']['model_steps_per_s']:,.0f} model-steps/s, eager PyTorch with "
        "nn.Dropout and optim.SGD "
        + (f"{one['torch']['model_steps_per_s']:,.0f}" if "model_steps_per_s" in one["torch"]
           else "(not installed)") + " model-steps/s."]


def _roofline_lines(results) -> list:
    bits, roof = results["random_bits"], results["roofline"]
    lines = ["## Random bits", "",
             f"A step's draws (the example and both masks) on one engine tile of {kernel.LANES} "
             "runs at keep 1/2, compiled as the engine is (sgd/kernel.py:chunk_draws):", "",
             "| masks drawn in | ns per model-step | 32-bit integer operations per model-step |",
             "|---|---|---|"]
    for name, label in (("words_32_bit", "32-bit words (before; still the rule for other p)"),
                        ("packed_fields", "1-bit fields (the rule at p = 1/2)")):
        lines.append(f"| {label} | {bits[name]['ns_per_model_step']:.1f} | "
                     f"{bits[name]['int32_operations_per_model_step']} |")
    lines += ["", "## Roofline (benchmarks/roofline.py)", ""]
    if "skipped" in roof:
        return lines + [f"Skipped: {roof['skipped']}."]
    m, ops = roof["machine"], roof["operations_per_model_step"]
    return lines + [
        f"Measured by benchmarks/roofline.c on data in registers: clock {m['clock_hz'] / 1e9:.2f} "
        f"GHz; float64 multiply-adds on {m['float64']['vector_bits']}-bit vectors "
        f"{m['float64']['one_core_per_s'] / 1e9:.1f} G operations/s "
        f"on one core ({m['float64']['per_cycle_one_core']:.1f} per cycle), "
        f"{m['float64']['all_cores_per_s'] / 1e9:.1f} G/s on all {NPROC}; Threefry's 32-bit "
        f"integer operations on {m['int32']['vector_bits']}-bit vectors "
        f"{m['int32']['one_core_per_s'] / 1e9:.1f} G/s on one core "
        f"({m['int32']['per_cycle_one_core']:.1f} per cycle), "
        f"{m['int32']['all_cores_per_s'] / 1e9:.1f} G/s on all. One core on each width: "
        + "; ".join(f"{name} " + ", ".join(f"{bits}-bit {rate / 1e9:.1f} G/s" for bits, rate in
                                             m[name]["one_core_per_s_by_vector_bits"].items())
                    for name in ("float64", "int32")) + ".", "",
        f"A Figure 2 model-step as the engine writes it: {ops['float64']} float64 and "
        f"{ops['int32']} 32-bit integer operations (counted in its jaxpr). Bound: "
        f"{roof['bound_model_steps_per_s'] / 1e6:.1f} M model-steps/s on this machine; the engine "
        "reaches " + ", ".join(f"{f:.1%} at {int(c):,} models"
                               for c, f in roof["fraction_by_models"].items())
        + " (goal 25% at 15,000)."]


def _dropout_cost_lines(results) -> list:
    cost = results["dropout_step_cost"]
    lines = ["## Dropout's cost per SGD step (1,500 Figure 2 models of one regime)", "",
             "| | with dropout | without | time per step, with / without |", "|---|---|---|---|"]
    for peer, label in (("engine", "ours"), ("torch_eager", "batched PyTorch, eager")):
        if peer in cost["time_ratio"]:
            lines.append(f"| {label} (M model-steps/s) | {_rate(cost['dropout'][peer])} | "
                         f"{_rate(cost['none'][peer])} | {cost['time_ratio'][peer]:.2f} |")
    return lines


def _setup_lines(results) -> list:
    return ["## Setting up the protocol's runs (first call, compilation included)", "",
            "| runs | networks | seconds |", "|---|---|---|"] + [
        f"| {runs:,} | {runs * NETWORKS_PER_RUN:,} | {results['setup_seconds'][str(runs)]:.2f} |"
        for runs in SETUP_RUNS]


def _exact_lines(results) -> list:
    exact, small = results["exact_split"], results["exact_small"]
    net = exact["network"]
    return [f"## Exact J_D, d = 3 (K = 4, n = 20, {net['examples']} examples, "
            f"{net['patterns']:,} node patterns, last hidden layer integrated)", "",
            "| route | seconds (median) | pattern-examples / s | value |", "|---|---|---|---|",
            f"| subset sums (theory.exact._split_moments) | {exact['split_seconds']:.2f} | "
            f"{exact['split_pattern_examples_per_s']:.3g} | {exact['values']['split']:.15g} |",
            f"| every pattern on its own (split_route=False) | "
            f"{exact['per_pattern_seconds']:.2f} | "
            f"{exact['per_pattern_pattern_examples_per_s']:.3g} | "
            f"{exact['values']['per_pattern']:.15g} |", "",
            f"Speed-up {exact['speedup']:.1f}x (goal 5x).", "",
            "## Exact J_D against full enumeration and Monte Carlo (K = 4, n = 6, d = 3, "
            "10 examples)", "",
            "| method | seconds (median) | value |", "|---|---|---|",
            f"| ours (2^10 patterns, last hidden layer integrated) | {small['ours_seconds']:.5f} | "
            f"{small['values']['ours']:.12g} |",
            f"| full vectorised enumeration, 2^16 patterns (NumPy) | "
            f"{small['full_enumeration_seconds']:.5f} | {small['values']['full_enumeration']:.12g} |",
            f"| Monte Carlo to relative SE {small['monte_carlo_relative_se']:.1e} "
            f"({small['monte_carlo_samples']:,} samples) | {small['monte_carlo_seconds']:.5f} | "
            f"{small['values']['monte_carlo']:.6g} ± {small['values']['monte_carlo_se']:.2g} |", "",
            f"exact_vs_full_enumeration = {small['exact_vs_full_enumeration']:,.0f}x; "
            f"exact_vs_monte_carlo = {small['exact_vs_monte_carlo']:,.0f}x."]


def write_markdown(results):
    quick = " (quick smoke run: few steps, not for quoting)" if results["quick"] else ""
    machine = results["machine"]
    lines = ["# Benchmarks" + quick, "",
             f"Measured {machine['date']} on {machine['cpu']} ({machine['cores']} cores, "
             f"{machine['jax_devices']} JAX devices), {machine['platform']}.",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
             + ". Regenerate with `make bench` "
             f"(this run: {results['wall_seconds'] / 60:.1f} min).", ""]
    lines += (_sgd_lines(results) + [""] + _roofline_lines(results) + [""]
              + _dropout_cost_lines(results) + [""] + _setup_lines(results)
              + [""] + _exact_lines(results))
    (OUT / "RESULTS.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps, one repeat (smoke test)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    repeats = 1 if args.quick else 3
    # The machine's rates first, on idle cores: once PyTorch has run, its OpenMP threads keep
    # spinning for a while and the all-cores rate read one core's (2026-12-02).
    _log("roofline: the machine's float64 and int32 peak rates (benchmarks/roofline.c)")
    try:
        rates = roofline.machine_rates(NPROC)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        _log(f"roofline skipped: {error}")
        rates = {"skipped": str(error)}
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        _log("PyTorch is not installed (pip install -e '.[torch]'): its rows are skipped")
    skipped = {"skipped": "PyTorch not installed"}
    results = {"machine": machine(), "quick": args.quick}
    _log("set-up of the protocol's runs (first, before anything else has compiled)")
    results["setup_seconds"] = {str(runs): bench_setup(runs) for runs in SETUP_RUNS}
    # Our engine at every size first, then the peers: PyTorch's OpenMP threads spin on after a run
    # and would slow whatever is timed next.
    protocols = {count: protocol(count // NETWORKS_PER_RUN) for count in MODEL_COUNTS}
    sgd = {}
    for count, models in protocols.items():
        steps, _ = sgd_steps(count, args.quick)
        _log(f"SGD, {count:,} models: our engine, {steps:,} steps")
        sgd[str(count)] = {"engine": bench_engine(models, steps, repeats)}
    for count, models in protocols.items():
        _, peer_steps = sgd_steps(count, args.quick)
        for mode in PEERS:
            _log(f"SGD, {count:,} models: batched PyTorch ({mode}), {peer_steps:,} steps")
            sgd[str(count)][mode] = bench_torch_batched(models, peer_steps, repeats, mode) \
                if have_torch else skipped
    small = protocol(1)
    one_steps = 20 if args.quick else 300
    _log(f"SGD one model at a time: {small[0].shape[0]} models x {one_steps} steps")
    sgd["one_at_a_time"] = {
        "jax_python_loop": bench_jax_python_loop(small, one_steps, repeats),
        "torch": bench_torch_one_at_a_time(small, one_steps, repeats) if have_torch else skipped}
    results["sgd"] = sgd
    results["engine_model_steps_per_s"] = {str(c): sgd[str(c)]["engine"]["model_steps_per_s"]
                                           for c in MODEL_COUNTS}
    results["sgd_vs_torch_batched"] = {
        str(c): sgd[str(c)]["engine"]["model_steps_per_s"]
        / max(sgd[str(c)][m]["model_steps_per_s"] for m in PEERS)
        for c in MODEL_COUNTS} if have_torch else {}
    _log("random bits: a step's draws in 1-bit fields against 32-bit words")
    results["random_bits"] = bench_random_bits(repeats)
    for name, keep in (("packed_fields", 0.5), ("words_32_bit", 0.3)):
        results["random_bits"][name]["int32_operations_per_model_step"] = \
            roofline.step_operations(N_EXAMPLES, (K, N_HIDDEN, 1), keep)["int32"]
    if "skipped" in rates:
        results["roofline"] = rates
    else:
        results["roofline"] = roofline.roofline(results["engine_model_steps_per_s"]["15000"],
                                                rates, N_EXAMPLES, (K, N_HIDDEN, 1))
        results["roofline"]["fraction_by_models"] = {
            c: v / results["roofline"]["bound_model_steps_per_s"]
            for c, v in results["engine_model_steps_per_s"].items()}
    results["dropout_step_cost"] = bench_dropout_cost(repeats, have_torch, args.quick)
    _log("exact J_D: subset sums against the per-pattern route (K = 4, n = 20, d = 3)")
    results["exact_split"] = bench_exact_split(args.quick, repeats)
    results["exact_split_speedup"] = results["exact_split"]["speedup"]
    _log("exact J_D against full enumeration and Monte Carlo (K = 4, n = 6, d = 3)")
    results["exact_small"] = bench_exact_small(repeats)
    results["exact_vs_full_enumeration"] = results["exact_small"]["exact_vs_full_enumeration"]
    results["wall_seconds"] = time.perf_counter() - start
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    write_markdown(results)
    print((OUT / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
