"""The SGD engine's inner loop: many runs advanced together, one run per vector lane.

:func:`sgd.training.train` hands this module tiles of ``LANES`` runs. Every array of a tile
carries the run axis LAST (parameters ``W`` (n_out, n_in, T), biases (n_out, T), inputs (N, K, T)),
so each elementwise operation of a step is one vectorised loop over the runs, and XLA fuses a
step into a handful of loops whose data stay in the core's cache. The gradient of the loss (square,
logistic or cross-entropy, :mod:`theory.losses`) is written out by hand (backpropagation through
the noisy network of :mod:`theory.noise`; the ReLU's derivative at 0 is taken as 0, as PyTorch
does); tests/test_training.py checks it against
``jax.grad`` of :func:`sgd.training.noisy_loss` for every kind of noise.

Random numbers. Each run has its own counter-based stream: word pair j of step t is the Threefry-2x32
hash (20 rounds; Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC
2011; the hash behind ``jax.random``) of the counter (t, j) under the run's key. Written here in
``jax.numpy`` so that XLA fuses it into the loop that uses it (``jax.random``'s own call is an
opaque kernel, 2.5x slower here); tests check it bit for bit against ``jax.extend.random``. A
step's words are laid out in a fixed order (the example index, then every dropout layer's noise),
so a run's numbers depend on its key alone, never on the other runs of its tile or device:

* example index: floor(u N / 2^32) for one 32-bit word u (each example has probability within
  N / 2^32 of 1/N);
* Bernoulli kinds: kept when u < p 2^32, probability ceil(p 2^32) / 2^32 (exact when p 2^32 is
  an integer, as for p = 1/2; within 2^-32 of p always);
* Gaussian noise: z = Phi^-1((u + 1/2) / 2^32), a standard normal truncated at |z| < 6.23.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from theory.noise import Noise

LANES = 64                 # at most this many runs per tile
CHUNK_BYTES = 1 << 18      # draws of one chunk of steps, per tile: about a quarter of a core's L2
GATHER_BY_SELECT = 32      # up to this many examples, pick a step's example by selects, not a gather

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash with 20 rounds (uint32 arrays, broadcast): the same bits as
    ``jax.extend.random.threefry2x32_p``, as fusible ``jax.numpy`` operations."""
    k0, k1, x0, x1 = (jnp.asarray(v, jnp.uint32) for v in (k0, k1, x0, x1))
    keys = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    a, b = x0 + keys[0], x1 + keys[1]
    for block in range(5):
        for r in _ROTATIONS[block % 2]:
            a = a + b
            b = (b << np.uint32(r)) | (b >> np.uint32(32 - r))
            b = b ^ a
        a = a + keys[(block + 1) % 3]
        b = b + keys[(block + 2) % 3] + np.uint32(block + 1)
    return a, b


def tile_width(runs: int) -> int:
    """Runs per tile for ``runs`` runs: as few tiles of at most LANES runs as will do, each a
    multiple of 8 wide (the padding lanes repeat run 0). Results do not depend on it: every lane
    computes its own run (tests/test_training.py)."""
    tiles = -(-runs // LANES)
    return 8 * -(-runs // (8 * tiles))


def layer_sizes(noise: Noise, widths, n_outs) -> list:
    """The number of random words one step draws for each dropout layer: one per node, group or
    (DropConnect) weight."""
    sizes = []
    for layer, (width, n_out) in enumerate(zip(widths, n_outs)):
        if noise.kind == "dropconnect":
            sizes.append(width * n_out)
        else:
            sizes.append(noise.num_groups(layer, width))
    return sizes


def chunk_length(log_every: int, words_per_step: int, num_inputs: int) -> int:
    """Steps drawn at once: the largest divisor of ``log_every`` whose draws fit CHUNK_BYTES."""
    per_step = 8 * LANES * (words_per_step + num_inputs + 1)           # bytes, widest tile
    cap = max(1, CHUNK_BYTES // per_step)
    return max(s for s in range(1, min(log_every, cap) + 1) if log_every % s == 0)


def _words(key, steps, first: int, count: int):
    """Words first..first+count-1 of every step in ``steps`` (S,), for every lane: (S, count, T)."""
    lo, hi = first // 2, (first + count + 1) // 2
    pairs = jnp.arange(lo, hi, dtype=jnp.uint32)[None, :, None]
    a, b = threefry2x32(key[0], key[1], steps.astype(jnp.uint32)[:, None, None], pairs)
    words = jnp.stack([a, b], axis=2).reshape(a.shape[:1] + (2 * (hi - lo),) + a.shape[2:])
    return words[:, first - 2 * lo: first - 2 * lo + count]


def _pick_examples(index, X, Y):
    """x[s, :, t] = X[index[s, t], :, t] and the labels likewise; index (S, T)."""
    N = X.shape[0]
    if N <= GATHER_BY_SELECT:
        x = jnp.broadcast_to(X[0], (index.shape[0],) + X.shape[1:])
        y = jnp.broadcast_to(Y[0], index.shape)
        for e in range(1, N):
            chosen = index == e
            x = jnp.where(chosen[:, None], X[e], x)
            y = jnp.where(chosen, Y[e], y)
        return x, y
    lanes = jnp.arange(X.shape[-1])
    x = jnp.moveaxis(X[index, :, lanes[None, :]], -1, 1)        # (S, T, K) -> (S, K, T)
    return x, Y[index, lanes[None, :]]


def chunk_draws(noise: Noise, key, steps, keep, X, Y, widths, n_outs, noisy):
    """Everything random about steps ``steps`` (S,) of one tile: the inputs x (S, K, T) and labels
    (S, T) of the drawn examples, and each dropout layer's multiplier: (S, n_l, T) for node noise,
    (S, n_out, n_in, T) for DropConnect, None for a layer that carries no noise in any run.

    ``keep`` (S, d, T): the keep probability of every layer at every step and lane; ``noisy``
    (static): which layers draw noise. Word offsets do not depend on ``noisy``.
    """
    sizes = layer_sizes(noise, widths, n_outs)
    u = _words(key, steps, 0, 1)[:, 0].astype(jnp.float64)
    index = jnp.floor(u * (X.shape[0] * 2.0 ** -32)).astype(jnp.int32)     # exact: u N < 2^53
    x, y = _pick_examples(index, X, Y)
    # kept when u < p 2^32, i.e. u <= ceil(p 2^32) - 1: an exact comparison of 32-bit integers
    last_kept = (jnp.ceil(keep * 2.0 ** 32) - 1.0).astype(jnp.uint32)       # (S, d, T)
    inverse = 1.0 / keep
    multipliers, offset = [], 1
    for layer, size in enumerate(sizes):
        if not noisy[layer]:
            multipliers.append(None)
            offset += size
            continue
        words = _words(key, steps, offset, size)                            # (S, size, T)
        offset += size
        if noise.kind == "gaussian":
            z = jax.scipy.special.ndtri((words.astype(jnp.float64) + 0.5) * 2.0 ** -32)
            p = keep[:, layer][:, None]                                     # (S, 1, T)
            value = 1.0 + jnp.sqrt((1.0 - p) / p) * z
        else:
            value = jnp.where(words <= last_kept[:, layer][:, None],
                              inverse[:, layer][:, None], 0.0)
        if noise.kind == "dropconnect":
            value = value.reshape((value.shape[0], n_outs[layer], widths[layer], value.shape[-1]))
        elif noise.groups[layer] is not None:
            value = value[:, np.asarray(noise.groups[layer])]
        multipliers.append(value)
    return x, y, multipliers


def _output_loss_and_delta(loss: str, z, y):
    """l(z, y) (T,) and dl/dz (C, T) for the output layer's values z (C, T) and labels y (T,)."""
    if loss == "square":
        residual = z[0] - y
        return residual * residual, 2.0 * residual[None]
    if loss == "logistic":                   # l = log(1 + e^(-s z)), dl/dz = -s sigmoid(-s z)
        margin = (2.0 * y - 1.0) * z[0]
        return jnp.logaddexp(0.0, -margin), (-(2.0 * y - 1.0) * jax.nn.sigmoid(-margin))[None]
    chosen = jnp.arange(z.shape[0])[:, None] == y.astype(jnp.int32)[None]   # softmax: l = lse - z_y
    return (jax.nn.logsumexp(z, axis=0) - jnp.sum(jnp.where(chosen, z, 0.0), axis=0),
            jax.nn.softmax(z, axis=0) - chosen)


def loss_and_gradient(kind: str, loss: str, params, x, y, multipliers):
    """l(D(W, x, R), y) and its gradient in every (W, b), for a tile: params [(W (o, i, T),
    b (o, T))], x (K, T), y (T,), multipliers per layer as :func:`chunk_draws` gives one step;
    ``loss`` as in :mod:`theory.losses`."""
    caches, a = [], x
    last = len(params) - 1
    for layer, (W, b) in enumerate(params):
        m = multipliers[layer]
        if m is not None and kind == "dropconnect":
            W = W * m
        elif m is not None:
            a = a * m
        z = jnp.sum(W * a[None], axis=1) + b
        caches.append((W, a, z))
        a = jnp.maximum(z, 0.0) if layer < last else z
    value, delta = _output_loss_and_delta(loss, a, y)                      # (T,), (C, T)
    grads = [None] * len(params)
    for layer in range(last, -1, -1):
        W, a, _ = caches[layer]
        m = multipliers[layer]
        gW = delta[:, None] * a[None]
        if m is not None and kind == "dropconnect":
            gW = gW * m
        grads[layer] = (gW, delta)
        if layer > 0:
            ga = jnp.sum(W * delta[:, None], axis=0)
            if m is not None and kind != "dropconnect":
                ga = ga * m
            delta = jnp.where(caches[layer - 1][2] > 0, ga, 0.0)
    return value, grads


def sgd_update(params, velocity, grads, lr, momentum, regime):
    """Weight decay, dampened heavy-ball momentum, the step, then the projections (see
    :mod:`sgd.training`, steps 3-5); per-run hyperparameters are (T,) arrays."""
    new_params, new_velocity = [], []
    for (W, b), (vW, vb), (gW, gb) in zip(params, velocity, grads):
        gW = gW + regime.lam * W
        gb = gb + regime.lam * regime.decay_biases * b
        vW = momentum * vW + (1.0 - regime.dampening) * gW
        vb = momentum * vb + (1.0 - regime.dampening) * gb
        W = W - lr * regime.lr_scale * vW
        b = b - lr * regime.lr_scale * vb
        W = jnp.where(regime.nonnegative > 0, jnp.maximum(W, 0.0), W)
        b = jnp.where(regime.zero_biases > 0, 0.0, b)
        new_params.append((W, b))
        new_velocity.append((vW, vb))
    return tuple(new_params), tuple(new_velocity)

