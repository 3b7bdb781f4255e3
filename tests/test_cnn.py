"""sgd.cnn and sgd.cnn_training: the small CNN of issue 26's studies against PyTorch's own modules
(evaluation and training mode, SGD with momentum) and its exact form against theory.from_torch (its
dropout masks against the exact criterion: tests/test_cnn_studies.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import theory
from sgd.cnn import Architecture, dense_network, forward, init
from sgd.cnn_training import TILE, MinibatchSchedule, train_cnns
from theory.network import network_outputs

SMALL = Architecture(channels=(2, 3), block1=("bn", "relu", "dropout2d"), block2=("relu",),
                     conv_keep=0.7, head_keep=0.6, classes=4)


def _perturbed(arch, seed):
    """float64 parameters with BatchNorm's scale, shift and running statistics away from the identity."""
    params, state = init(jax.random.key(seed), arch, jnp.float64)
    rng = np.random.default_rng(seed)
    for name in state:
        c = state[name][0].shape[0]
        params[name] = (jnp.asarray(rng.normal(size=c)), jnp.asarray(0.3 * rng.normal(size=c)))
        state[name] = (jnp.asarray(0.3 * rng.normal(size=c)), jnp.asarray(rng.random(c) + 0.5))
    return params, state


def _torch_mirror(torch, arch, params, state):
    """The same network as PyTorch modules (float64), written from the module doc of sgd.cnn."""
    nn = torch.nn
    c1, c2 = arch.channels
    modules = {"relu": lambda c: nn.ReLU(), "bn": nn.BatchNorm2d,
               "dropout": lambda c: nn.Dropout(1 - arch.conv_keep),
               "dropout2d": lambda c: nn.Dropout2d(1 - arch.conv_keep)}
    layers = [nn.Conv2d(1, c1, 3, padding=1)] + [modules[op](c1) for op in arch.block1]
    layers += [nn.Conv2d(c1, c2, 3, stride=2, padding=1)] + [modules[op](c2) for op in arch.block2]
    layers += [nn.Flatten()] + ([nn.Dropout(1 - arch.head_keep)] if arch.head_keep < 1 else [])
    layers += [nn.Linear(c2 * 16, arch.classes)]
    model = nn.Sequential(*layers).double()
    convs = iter(("conv1", "conv2"))
    bns = iter(name for name in ("bn1", "bn2") if name in params)
    with torch.no_grad():
        for module in model:
            name = (next(convs) if isinstance(module, nn.Conv2d) else next(bns)
                    if isinstance(module, nn.BatchNorm2d) else "fc" if isinstance(module, nn.Linear)
                    else None)
            if name is None:
                continue
            module.weight.copy_(torch.from_numpy(np.array(params[name][0])))
            module.bias.copy_(torch.from_numpy(np.array(params[name][1])))
            if name in state:
                module.running_mean.copy_(torch.from_numpy(np.array(state[name][0])))
                module.running_var.copy_(torch.from_numpy(np.array(state[name][1])))
    return model


def _images(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 64))


@pytest.mark.parametrize("arch", [
    SMALL,
    Architecture(channels=(3, 2), block1=("relu", "dropout"), block2=("bn", "relu"), conv_keep=0.5,
                 classes=3),
    Architecture(channels=(2, 2), block1=("dropout", "bn", "relu"), block2=("bn", "relu"), classes=3),
])
def test_evaluation_and_training_mode_are_pytorchs(torch, arch):
    params, state = _perturbed(arch, 1)
    model = _torch_mirror(torch, arch, params, state)
    X = _images(6, 2)
    logits, new_state = forward(arch, params, state, jnp.asarray(X))
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(X.reshape(6, 1, 8, 8))).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-12, atol=1e-12)
    assert new_state is not state and all(new_state[k] is state[k] for k in state)
    # Training mode without dropout: minibatch statistics and PyTorch's running-statistics update.
    plain = arch._replace(conv_keep=1.0, head_keep=1.0)
    model = _torch_mirror(torch, plain, params, state).train()
    logits, moved = forward(plain, params, state, jnp.asarray(X), jax.random.key(0), train=True)
    with torch.no_grad():
        expected = model(torch.from_numpy(X.reshape(6, 1, 8, 8))).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-10, atol=1e-10)
    bns = [m for m in model if isinstance(m, torch.nn.BatchNorm2d)]
    for name, module in zip(sorted(moved), bns):
        np.testing.assert_allclose(moved[name][0], module.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(moved[name][1], module.running_var.numpy(), rtol=1e-12)


def test_dense_form_is_what_from_torch_reads_off_pytorchs_modules(torch):
    arch = SMALL._replace(block2=("bn", "relu"))         # BatchNorm in both blocks, channel groups
    params, state = _perturbed(arch, 3)
    layers, keep, groups = dense_network(arch, params, state)
    net = theory.from_torch(_torch_mirror(torch, arch, params, state), input_shape=(1, 8, 8))
    assert keep == pytest.approx(net.keep_prob)
    assert [None if g is None else tuple(g) for g in groups] == list(net.groups or (None,) * 3)
    for (W, b), (W_t, b_t) in zip(layers, net.params):
        np.testing.assert_allclose(W, W_t, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, b_t, rtol=1e-12, atol=1e-14)
    X = _images(5, 4)
    np.testing.assert_allclose(network_outputs(layers, X), forward(arch, params, state, X)[0],
                               rtol=1e-12, atol=1e-12)


def test_a_dropout_that_batchnorm_reads_is_refused_by_name():
    arch = Architecture(block1=("dropout", "bn", "relu"), conv_keep=0.8)
    with pytest.raises(ValueError, match="read by a BatchNorm before the ReLU.*Monte Carlo"):
        dense_network(arch, *init(jax.random.key(0), arch))


@pytest.mark.parametrize("bad,message", [
    ({"block1": ("bn",)}, "block1 must hold one 'relu'"),
    ({"block2": ("relu", "relu")}, "block2 must hold one 'relu'"),
    ({"conv_keep": 0.0}, "conv_keep must be a keep probability"),
    ({"channels": (0, 2)}, "channels must be two positive integers"),
])
def test_bad_architectures_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        init(jax.random.key(0), Architecture()._replace(**bad))


def test_full_batch_training_is_pytorchs_sgd_with_momentum(torch):
    """batch = N: every step sees every example, so the order does not matter; two epochs of our
    trainer against torch.optim.SGD on the PyTorch mirror (BatchNorm in training mode)."""
    arch = Architecture(channels=(2, 2), block1=("bn", "relu"), block2=("relu",), classes=3)
    params, state = init(jax.random.key(8), arch)
    X = _images(16, 9).astype(np.float32)
    labels = np.random.default_rng(10).integers(0, 3, size=16)
    schedule = MinibatchSchedule(epochs=2, batch=16, learning_rate=0.1, momentum=0.9)
    stack = jax.tree_util.tree_map(lambda a: a[None], (params, state))
    trained, moved = train_cnns(arch, schedule, jax.random.key(11)[None], *stack, X[None],
                                labels[None])
    model = _torch_mirror(torch, arch, params, state).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            model(torch.from_numpy(X.astype(np.float64).reshape(16, 1, 8, 8))),
            torch.from_numpy(labels))
        loss.backward()
        optimiser.step()
    np.testing.assert_allclose(trained["fc"][0][0], model[-1].weight.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(trained["conv1"][0][0], model[0].weight.detach().numpy(), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(moved["bn1"][1][0], model[1].running_var.numpy(), rtol=1e-4)


def test_a_run_depends_on_its_key_alone():
    arch = Architecture(channels=(2, 2), block1=("relu", "dropout"), conv_keep=0.5, head_keep=0.5,
                        classes=3)
    runs = TILE + 1           # run r trained beside the others, then without run 0: every run
    rng = np.random.default_rng(12)     # moves one lane down and the last one to another tile
    X, labels = rng.normal(size=(runs, 20, 64)), rng.integers(0, 3, size=(runs, 20))
    inits = [init(jax.random.key(r), arch) for r in range(runs)]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *inits)
    keys = jax.random.split(jax.random.key(13), runs)
    schedule = MinibatchSchedule(epochs=2, batch=5)
    both = train_cnns(arch, schedule, keys, *stacked, X, labels)
    alone = train_cnns(arch, schedule, keys[1:], *jax.tree_util.tree_map(lambda a: a[1:], stacked),
                       X[1:], labels[1:])
    for a, b in zip(jax.tree_util.tree_leaves(both), jax.tree_util.tree_leaves(alone)):
        np.testing.assert_array_equal(a[1:], b)
    with pytest.raises(ValueError, match="schedule.batch"):
        train_cnns(arch, MinibatchSchedule(batch=64), keys, *stacked, X, labels)
