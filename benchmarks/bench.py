"""Benchmarks: the suite against what a user would otherwise run, measured side by side.

    make bench        # installs the optional PyTorch extra if it can, then runs this script
    python benchmarks/bench.py [--quick] [--skip-make]

Writes benchmarks/results.json and benchmarks/RESULTS.md (machine, versions, date):

* SGD throughput on the paper's Figure 2 protocol (K = 5, n = 5, d = 2, batch 1, dropout keep 1/2 or
  weight decay 1/2 or neither, momentum 0.5 with Torch7 dampening, lr 0.01 / (1 + 1e-5 t)), in
  model-steps per second, with the same models and number of steps for: our engine
  (experiments.training.train: scan inside jit, vmap over models, runs split over devices); an
  eager PyTorch loop written the way a typical user would (nn.Dropout, optim.SGD, one model at a
  time); and a JAX loop that jits one SGD step of one model and drives it from Python. Each timed
  after a warm-up, repeated, medians reported.
* Exact J_D: our evaluator against a straightforward vectorised enumeration of all 2^(all nodes)
  patterns (theory.enumeration, NumPy) on K = 4, n = 6, d = 3, and against Monte Carlo run until
  its standard error is 1e-3 of the value.
* The Figure 2 protocol alone (150 networks x 100000 steps) and a cold `make all`.
"""

from __future__ import annotations

import argparse
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

import theory  # noqa: E402
from experiments import fig2_input_scale as fig2  # noqa: E402
from experiments.training import Schedule, noisy_loss, run_noise, stack_runs, train  # noqa: E402
from theory.enumeration import brute_force_criterion  # noqa: E402
from theory.noise import draw_raw  # noqa: E402

K, N_HIDDEN, N_EXAMPLES = fig2.K, fig2.N_HIDDEN, fig2.N_EXAMPLES


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


def protocol(runs=10):
    """The Figure 2 protocol's models as the paper ran them: runs x 5 scales x 3 regimes (Torch7
    momentum, weight decay on every parameter), from experiments/fig2_input_scale.py."""
    regimes = {name: fig2.REGIMES[name] for name in ("dropout", "weight_decay_biases", "none")}
    _, keys, params, X, Y, per_run = fig2.protocol_runs(runs, regimes, {"torch7": 0.5})
    return keys, params, X, Y, stack_runs(per_run), per_run


def bench_engine(models, steps, repeats):
    keys, params, X, Y, regime, _ = models
    schedule = Schedule(steps=steps, log_every=min(steps, 1000))

    def run():
        jax.block_until_ready(train(keys, params, X, Y, regime, schedule))

    median, times = _median_time(run, repeats)
    return {"seconds": median, "times": times, "steps": steps,
            "model_steps_per_s": keys.shape[0] * steps / median}


def bench_jax_python_loop(models, steps, repeats):
    """jit one SGD step of one model (jax.grad of the noisy loss, momentum by hand); Python loops
    over models and steps (the JAX user's loop)."""
    keys, params, X, Y, regime, regimes = models
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
    return {"seconds": median, "times": times, "model_steps_per_s": keys.shape[0] * steps / median}


def bench_torch_eager(models, steps, repeats):
    """The paper's experiment as a typical PyTorch user writes it: one model at a time."""
    try:
        import torch
        from torch import nn
    except ImportError:
        return {"skipped": "PyTorch is not installed (pip install -e '.[torch]'); row skipped"}
    _, params, X, Y, _, regimes = models
    X, Y = torch.tensor(np.asarray(X), dtype=torch.float32), torch.tensor(np.asarray(Y),
                                                                         dtype=torch.float32)

    def make(m, regime):
        net = nn.Sequential(nn.Dropout(p=1 - regime.keep_prob), nn.Linear(K, N_HIDDEN), nn.ReLU(),
                            nn.Dropout(p=1 - regime.keep_prob), nn.Linear(N_HIDDEN, 1))
        with torch.no_grad():
            for layer, (W, b) in zip((net[1], net[4]), params):
                layer.weight.copy_(torch.tensor(np.asarray(W[m])))
                layer.bias.copy_(torch.tensor(np.asarray(b[m])))
        optim = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.5, dampening=0.5,
                                weight_decay=regime.lam)
        schedule = torch.optim.lr_scheduler.LambdaLR(optim, lambda t: 1 / (1 + 1e-5 * t))
        return net, optim, schedule

    def run(steps=steps, models=len(regimes)):
        for m, regime in enumerate(regimes[:models]):
            net, optim, schedule = make(m, regime)
            net.train()
            for _ in range(steps):
                i = torch.randint(N_EXAMPLES, (1,))
                optim.zero_grad()
                loss = ((net(X[m, i]).squeeze(-1) - Y[m, i]) ** 2).mean()
                loss.backward()
                optim.step()
                schedule.step()

    median, times = _median_time(run, repeats, warmup=lambda: run(10, 3))
    return {"seconds": median, "times": times, "model_steps_per_s": len(regimes) * steps / median,
            "torch": torch.__version__, "threads": torch.get_num_threads(), "dtype": "float32"}


def bench_exact(repeats):
    rng = np.random.default_rng(0)
    sizes = [4, 6, 6, 1]
    params = tuple((rng.normal(size=(o, i)), rng.normal(size=o)) for i, o in zip(sizes[:-1], sizes[1:]))
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


def bench_protocol(models, repeats):
    return bench_engine(models, 100_000, repeats)


def cold_make_all():
    subprocess.run(["make", "-s", "clean"], cwd=ROOT, check=True)
    start = time.perf_counter()
    subprocess.run(["make", "-s", "all"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
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


def write_markdown(results):
    sgd, exact = results["sgd"], results["exact"]
    lines = ["# Benchmarks", "",
             f"Measured {results['machine']['date']} on {results['machine']['cpu']} "
             f"({results['machine']['cores']} cores, {results['machine']['jax_devices']} JAX "
             f"devices), {results['machine']['platform']}.",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in results["machine"]["versions"].items())
             + ". Regenerate with `make bench`.", "",
             f"## SGD throughput, Figure 2 protocol ({sgd['models']} models x {sgd['steps']} "
             "steps each, batch 1)", "",
             "| implementation | seconds (median) | model-steps / s | ours is faster by |",
             "|---|---|---|---|"]
    for name, label in (("engine", "ours: scan in jit, vmap over models, runs split over devices"),
                        ("jax_python_loop", "JAX, one jitted step per model driven from Python"),
                        ("torch_eager", "PyTorch eager, nn.Dropout + optim.SGD, one model at a time")):
        row = sgd[name]
        if "skipped" in row:
            lines.append(f"| {label} | skipped: {row['skipped']} | | |")
            continue
        ratio = sgd["engine"]["model_steps_per_s"] / row["model_steps_per_s"]
        lines.append(f"| {label} | {row['seconds']:.3f} | {row['model_steps_per_s']:,.0f} | "
                     f"{ratio:,.0f}x |")
    goal = results.get("sgd_vs_torch_eager")
    lines += ["", "Goal: at least 500x the eager PyTorch loop. Measured: "
              + (f"{goal:,.0f}x." if goal else "not measured (PyTorch missing)."), "",
              "## Exact J_D (K = 4, n = 6, d = 3, 10 examples)", "",
              "| method | seconds (median) | value |", "|---|---|---|",
              f"| ours (2^10 patterns, last hidden layer integrated) | {exact['ours_seconds']:.5f} | "
              f"{exact['values']['ours']:.12g} |",
              f"| full vectorised enumeration, 2^16 patterns (NumPy) | "
              f"{exact['full_enumeration_seconds']:.5f} | {exact['values']['full_enumeration']:.12g} |",
              f"| Monte Carlo to relative SE {exact['monte_carlo_relative_se']:.1e} "
              f"({exact['monte_carlo_samples']:,} samples) | {exact['monte_carlo_seconds']:.5f} | "
              f"{exact['values']['monte_carlo']:.6g} ± {exact['values']['monte_carlo_se']:.2g} |", "",
              f"exact_vs_full_enumeration = {exact['exact_vs_full_enumeration']:,.0f}x (goal 20x); "
              f"exact_vs_monte_carlo = {exact['exact_vs_monte_carlo']:,.0f}x.", "",
              "## Wall times", "",
              f"- Figure 2 protocol alone ({sgd['models']} networks x {results['protocol']['steps']} "
              f"SGD steps = {sgd['models'] * results['protocol']['steps']:,} steps), our engine after "
              f"warm-up: {results['protocol']['seconds']:.1f} s.",
              "- cold `make all` (set-up excluded): "
              + (f"{results['make_all_seconds']:.0f} s." if results.get("make_all_seconds")
                 else "not measured (--skip-make).")]
    (OUT / "RESULTS.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (smoke test)")
    parser.add_argument("--skip-make", action="store_true", help="do not time a cold make all")
    args = parser.parse_args(argv)
    steps, repeats = (50, 1) if args.quick else (1000, 3)
    models = protocol(runs=2 if args.quick else 10)
    n_models = models[0].shape[0]
    results = {"machine": machine(), "quick": args.quick}
    _log(f"SGD: our engine, {n_models} models x {steps} steps")
    sgd = {"models": n_models, "steps": steps, "engine": bench_engine(models, steps, repeats)}
    _log("SGD: JAX loop driven from Python")
    sgd["jax_python_loop"] = bench_jax_python_loop(models, steps, repeats)
    _log("SGD: eager PyTorch loop")
    sgd["torch_eager"] = bench_torch_eager(models, steps, repeats)
    results["sgd"] = sgd
    ours = sgd["engine"]["model_steps_per_s"]
    results["sgd_vs_jax_python_loop"] = ours / sgd["jax_python_loop"]["model_steps_per_s"]
    if "skipped" not in sgd["torch_eager"]:
        results["sgd_vs_torch_eager"] = ours / sgd["torch_eager"]["model_steps_per_s"]
    else:
        _log(sgd["torch_eager"]["skipped"])
    _log("exact J_D against full enumeration and Monte Carlo")
    results["exact"] = bench_exact(repeats)
    results["exact_vs_full_enumeration"] = results["exact"]["exact_vs_full_enumeration"]
    _log("the Figure 2 protocol alone")
    results["protocol"] = (bench_engine(models, 1000, 1) if args.quick
                           else bench_protocol(models, 1))
    if not args.skip_make:
        _log("cold make all")
        results["make_all_seconds"] = cold_make_all()
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    write_markdown(results)
    print((OUT / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
