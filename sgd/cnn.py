"""A small convolutional network for 8 x 8 images, written the way PyTorch's modules compute it, and
its exact form for the engine (issue 26's studies).

The network (``Architecture``): Conv2d(1, c1, 3, padding=1) -> block 1 -> Conv2d(c1, c2, 3, stride=2,
padding=1) -> block 2 -> Flatten -> [Dropout(keep ``head_keep``)] -> Linear(c2 * 16, classes). A
block is a sequence of the operations

- ``"relu"`` (every block has one),
- ``"bn"``: BatchNorm2d as PyTorch defines it (Ioffe and Szegedy, ICML 2015): in training it
  normalises each channel by the minibatch's mean and biased variance over (examples, rows, columns)
  and moves its running statistics a tenth of the way to the minibatch's mean and unbiased variance
  (PyTorch's momentum 0.1); in evaluation it uses the running statistics; eps 1e-5, affine,
- ``"dropout"``: element dropout, every unit kept with probability ``conv_keep`` and scaled by
  1/``conv_keep`` (``nn.Dropout``),
- ``"dropout2d"``: channel dropout, every (example, channel) feature map kept or dropped whole
  (``nn.Dropout2d`` on a 4-D batch; Tompson, Goroshin, Jain, LeCun and Bregler, CVPR 2015),

in the order given. Dropout follows :mod:`theory.noise`'s definition (Bernoulli(p)/p per unit or per
group of units); its masks are drawn with ``jax.random.bernoulli``.

:func:`dense_network` returns the evaluation-mode network in the engine's form: every stretch between
two ReLUs one dense affine map (the convolution's matrix with BatchNorm's running statistics folded in),
with the keep probabilities and groups of its dropout layers, ready for ``theory.dropout_criterion``
on images flattened in (channel, row, column) order. It is exact whenever every dropout is
multiplicative on a ReLU layer; a dropout that a BatchNorm reads before the ReLU (Conv -> Dropout ->
BN -> ReLU) is not (the shift makes the mask non-multiplicative) and is refused by name.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

SIDE = 8                # images are SIDE x SIDE, one channel
OPERATIONS = ("relu", "bn", "dropout", "dropout2d")
BN_EPS, BN_MOMENTUM = 1e-5, 0.1


class Architecture(NamedTuple):
    """A network of the module doc (hashable: a static argument of the trainer)."""

    channels: tuple = (4, 8)
    block1: tuple = ("relu",)
    block2: tuple = ("relu",)
    conv_keep: float = 1.0          # keep probability of every dropout in the blocks
    head_keep: float = 1.0          # keep probability of the dropout before the classifier
    classes: int = 10

    def check(self) -> "Architecture":
        c1, c2 = self.channels
        if not (isinstance(c1, int) and isinstance(c2, int) and c1 >= 1 and c2 >= 1):
            raise ValueError(f"channels must be two positive integers (c1, c2), got {self.channels!r}")
        for name in ("block1", "block2"):
            ops = getattr(self, name)
            if any(op not in OPERATIONS for op in ops) or ops.count("relu") != 1 \
                    or len(set(ops)) != len(ops):
                raise ValueError(f"{name} must hold one 'relu' and at most one each of 'bn', "
                                 f"'dropout', 'dropout2d', got {ops!r}")
        for name in ("conv_keep", "head_keep"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a keep probability in (0, 1], got "
                                 f"{getattr(self, name)!r}")
        return self

    @property
    def widths(self) -> tuple:
        """The units of the input, of each hidden layer (after block 1 and block 2) and the output."""
        c1, c2 = self.channels
        return SIDE * SIDE, c1 * SIDE * SIDE, c2 * (SIDE // 2) ** 2, self.classes


def init(key, arch: Architecture, dtype=jnp.float32):
    """(params, state): PyTorch's default initialisation (weights and biases uniform in +-1/sqrt(fan
    in)); BatchNorm's scale 1, shift 0, running mean 0 and variance 1."""
    arch = arch.check()
    c1, c2 = arch.channels
    shapes = {"conv1": (c1, 1, 3, 3), "conv2": (c2, c1, 3, 3), "fc": (arch.classes, arch.widths[2])}
    params, state = {}, {}
    for name, key_layer in zip(shapes, jax.random.split(key, len(shapes))):
        shape = shapes[name]
        bound = 1.0 / np.sqrt(np.prod(shape[1:]))
        w_key, b_key = jax.random.split(key_layer)
        params[name] = (jax.random.uniform(w_key, shape, dtype, -bound, bound),
                        jax.random.uniform(b_key, shape[:1], dtype, -bound, bound))
    for block, c in (("block1", c1), ("block2", c2)):
        if "bn" in getattr(arch, block):
            params["bn" + block[-1]] = (jnp.ones(c, dtype), jnp.zeros(c, dtype))
            state["bn" + block[-1]] = (jnp.zeros(c, dtype), jnp.ones(c, dtype))
    return params, state


def _conv(x, w, b, stride):
    side = x.shape[-1]
    padded = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patches = jnp.stack([padded[:, :, i:i + side:stride, j:j + side:stride]
                         for i in range(3) for j in range(3)], axis=2)       # (B, C, 9, H', W')
    out = jnp.einsum("bckhw,ock->bohw", patches, w.reshape(w.shape[0], w.shape[1], 9))
    return out + b[:, None, None]


def _batchnorm(h, scale_shift, running, train):
    gamma, beta = scale_shift
    if train:
        mean, var = jnp.mean(h, axis=(0, 2, 3)), jnp.var(h, axis=(0, 2, 3))
        count = h.shape[0] * h.shape[2] * h.shape[3]
        new = ((1 - BN_MOMENTUM) * running[0] + BN_MOMENTUM * mean,
               (1 - BN_MOMENTUM) * running[1] + BN_MOMENTUM * var * count / (count - 1))
    else:
        (mean, var), new = running, running
    scale = gamma / jnp.sqrt(var + BN_EPS)
    return (h - mean[:, None, None]) * scale[:, None, None] + beta[:, None, None], new


def _dropout(key, h, keep, per_channel):
    shape = h.shape[:2] + (1,) * (h.ndim - 2) if per_channel else h.shape
    return h * jax.random.bernoulli(key, keep, shape).astype(h.dtype) / keep


def _run(arch: Architecture, params, state, X, key, *, batch_statistics: bool):
    """(logits, new state, BatchNorm inputs): masks drawn from ``key`` (none when it is None),
    BatchNorm on the minibatch's statistics or on the running ones."""
    h = X.reshape(X.shape[0], 1, SIDE, SIDE)
    keys = [None] * 3 if key is None else list(jax.random.split(key, 3))
    new_state, inputs = dict(state), {}
    for layer, stride in ((1, 1), (2, 2)):
        h = _conv(h, *params[f"conv{layer}"], stride)
        for op in getattr(arch, f"block{layer}"):
            if op == "relu":
                h = jax.nn.relu(h)
            elif op == "bn":
                inputs[f"bn{layer}"] = h
                h, new_state[f"bn{layer}"] = _batchnorm(h, params[f"bn{layer}"],
                                                        state[f"bn{layer}"], batch_statistics)
            elif key is not None:
                h = _dropout(keys[layer - 1], h, arch.conv_keep, op == "dropout2d")
    h = h.reshape(h.shape[0], -1)
    if key is not None and arch.head_keep < 1.0:
        h = _dropout(keys[2], h, arch.head_keep, False)
    w, b = params["fc"]
    return h @ w.T + b, new_state, inputs


def forward(arch: Architecture, params, state, X, key=None, *, train: bool = False):
    """(logits (B, classes), new state): X (B, 64) images flattened row by row. ``train=True`` uses
    minibatch statistics in BatchNorm (and returns the moved running statistics) and draws dropout
    masks from ``key``; ``train=False`` is PyTorch's ``model.eval()``."""
    logits, new_state, _ = _run(arch, params, state, X, key if train else None,
                                batch_statistics=train)
    return logits, new_state


def noisy_logits(arch: Architecture, params, state, X, key):
    """The logits under training's dropout masks (drawn from ``key``) with every BatchNorm in
    evaluation mode: the network whose expected loss is the dropout criterion of
    :func:`dense_network`'s form, one sample of it."""
    return _run(arch, params, state, X, key, batch_statistics=False)[0]


def batchnorm_inputs(arch: Architecture, params, state, X, key=None) -> dict:
    """{"bn1": (B, c1, 8, 8), "bn2": (B, c2, 4, 4)} (the BatchNorms the blocks have): the values each
    BatchNorm reads, every BatchNorm normalising by its running statistics, with dropout masks drawn
    from ``key`` (training's noise) or none (evaluation) when ``key`` is None."""
    return _run(arch, params, state, X, key, batch_statistics=False)[2]


def _affine_matrix(function, n_in: int):
    """(M, c) with function(x) = M x + c for an affine ``function`` of a flat vector, in float64."""
    zero = jnp.zeros(n_in, jnp.float64)
    return np.asarray(jax.jacfwd(function)(zero)), np.asarray(function(zero))


def dense_network(arch: Architecture, params, state):
    """(layers, keep_prob, groups) of the evaluation-mode network in the engine's form (module doc):
    layers ((W1, b1), (W2, b2), (W3, b3)) in float64, keep_prob (1, p1, p2) for the input and the two
    hidden layers, groups (None, g1, g2) with the channel of every unit where a layer's dropout is
    ``dropout2d``. Raises ValueError for a dropout that a BatchNorm reads before the ReLU."""
    arch = arch.check()
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
    state = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), state)
    widths = arch.widths
    layers, keeps, groups = [], [1.0], [None]
    for layer, stride in ((1, 1), (2, 2)):
        ops = getattr(arch, f"block{layer}")
        c_in = 1 if layer == 1 else arch.channels[0]
        relu = ops.index("relu")
        if "bn" in ops[relu:]:
            raise ValueError(f"block{layer} {ops}: a BatchNorm after the ReLU is not folded by "
                             f"dense_network (put it before the ReLU)")
        dropouts = [op for op in ops if op.startswith("dropout")]
        if dropouts and "bn" in ops and ops.index(dropouts[0]) < ops.index("bn"):
            raise ValueError(f"block{layer} {ops}: the dropout is read by a BatchNorm before the "
                             f"ReLU, so its shift makes the mask non-multiplicative and the exact "
                             f"route does not take it; use Monte Carlo on the network's forward "
                             f"(the masks drawn by sgd.cnn.forward with train=True)")

        def affine(v, layer=layer, stride=stride, c_in=c_in, ops=ops):
            h = _conv(v.reshape(1, c_in, SIDE, SIDE), *params[f"conv{layer}"], stride)
            if "bn" in ops:
                h, _ = _batchnorm(h, params[f"bn{layer}"], state[f"bn{layer}"], False)
            return h.reshape(-1)

        layers.append(_affine_matrix(affine, widths[layer - 1]))
        keep = arch.conv_keep if dropouts else 1.0
        if layer == 2 and arch.head_keep < 1.0:
            if dropouts:
                raise ValueError("block2 has a dropout and so does the head: two dropouts on one "
                                 "layer are not a case of this network")
            keep = arch.head_keep
        keeps.append(keep)
        c_out = arch.channels[layer - 1]
        groups.append(np.repeat(np.arange(c_out), widths[layer] // c_out)
                      if "dropout2d" in dropouts else None)
    w, b = params["fc"]
    layers.append((np.asarray(w), np.asarray(b)))
    return tuple(layers), tuple(keeps), tuple(groups)
