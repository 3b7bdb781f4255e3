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
2011; the hash behind ``jax.random``) of the counter (t, j) under the run's key (words 2j and
2j + 1), and only the pairs a step uses are hashed. Written here in
``jax.numpy`` so that XLA fuses it into the loop that uses it (``jax.random``'s own call is an
opaque kernel, 2.5x slower here); tests check it bit for bit against ``jax.extend.random``.
Word 0 of a step picks the example; dropout layer l's words start at word 1 + (the number of draws
of layers 0..l-1), whatever their widths; a layer makes one draw per node, group or (DropConnect)
weight, in that order, and none where no run of the call has noise:

* example index: floor(u N / 2^32) for one 32-bit word u (each example has probability within
  N / 2^32 of 1/N);
* Bernoulli kinds, in m-bit fields: m is the smallest number of bits with p 2^m an integer when
  it is at most FIELD_BITS = 16 (m = 1 at p = 1/2, 2 at p = 1/4 or 3/4, 3 at p = k/8), else
  m = 32 (whole words). Draw i of the layer is bits m (i mod f) .. m (i mod f) + m - 1 of the
  layer's word floor(i / f), f = floor(32 / m) fields to a word (no field straddles two words), and
  the node is kept when that field is below p 2^m: probability exactly p for such dyadic p (one
  word is 32 masks at p = 1/2) and ceil(p 2^32) / 2^32, within 2^-32 of p, otherwise (the rule
  of 32-bit words, whose draws are the same bits as before fields were introduced). A run's m is
  the widest any of its own steps needs (a keep schedule mixing p = 1/2 and 0.3 takes 32), so a
  run's numbers depend on its key and its own keep probabilities alone, never on the other runs
  of its tile, device or call: lanes of one tile may use different widths;
* Gaussian noise: z = Phi^-1((u + 1/2) / 2^32) for one 32-bit word u per node, a standard normal
  truncated at |z| < 6.23.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from theory.noise import Noise

LANES = 32                 # runs per tile, always (128 before 2026-12-02, at most: see below)
CHUNK_BYTES = 1 << 17      # draws of one chunk of steps, per tile: an eighth of a core's 1 MiB L2
# Every tile is LANES runs wide, the padding lanes repeating run 0, so every run goes through the
# same compiled tile whatever the number of runs in the call. Tiles of at most 128 runs cut to the
# call (a multiple of 8: 72 lanes for 70 runs, 8 for one) broke "a run's numbers depend on its key
# alone" under the engine's options (theory.compile_options.RANDOM_HEAVY): XLA:CPU vectorises a
# loop of 72 lanes and one of 8 differently, and DropConnect (every loss) and the logistic loss
# (every noise) came out in the last bit differently for the same run (2026-12-02; dropout and
# Gaussian noise under the square and cross-entropy losses did not). The tests compile at XLA's
# lowest level, where they agree, which is how this went unseen.
# Tiles of 32 pay with XLA:CPU running each step's loop as one compiled call
# (theory.compile_options.SMALL_LOOP_BYTES), measured on the Figure 2 protocol (AMD EPYC,
# 2026-12-02). One core, per step of one tile: 1.2-1.7 us at 8 lanes under XLA's default (a
# dispatch per fused loop of the step) against 0.5 us as one call; per model-step as one call, 25-29
# / 20 / 19-24 / 20-24 / 24-30 / 31 / 27-33 ns at 16 / 24 / 32 / 40 / 48 / 64 / 96 lanes, against
# 30-37 ns with 128 lanes under XLA's default. Both cores: 72-89 / 101-124 / 103-119 million
# model-steps per second at 150 / 1,500 / 15,000 models (two runs) against 46-49 (one run) with the
# tiles of up to 128 under XLA's default. CHUNK_BYTES is a quarter of what it was with 128 lanes, so
# a chunk holds as many steps as before.
GATHER_BY_SELECT = 32      # up to this many examples, pick a step's example by selects, not a gather
WORD_BITS = 32             # Threefry-2x32 gives 32-bit words
FIELD_BITS = 16            # Bernoulli draws in fields of up to this many bits; wider: whole words

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


def layer_sizes(noise: Noise, widths, n_outs) -> list:
    """The number of random draws one step makes for each dropout layer: one per node, group or
    (DropConnect) weight."""
    sizes = []
    for layer, (width, n_out) in enumerate(zip(widths, n_outs)):
        if noise.kind == "dropconnect":
            sizes.append(width * n_out)
        else:
            sizes.append(noise.num_groups(layer, width))
    return sizes


def field_bits(keep) -> np.ndarray:
    """The width in bits of one Bernoulli draw at keep probability ``keep`` (elementwise): the
    smallest m <= FIELD_BITS with keep 2^m an integer (0 at keep = 1), else WORD_BITS."""
    keep = np.asarray(keep, np.float64)
    bits = np.full(keep.shape, WORD_BITS)
    for m in range(FIELD_BITS, -1, -1):
        scaled = keep * 2.0 ** m
        bits = np.where(scaled == np.floor(scaled), m, bits)
    return bits


def words_for(size: int, bits: int) -> int:
    """32-bit words that ``size`` fields of ``bits`` bits fill, floor(32 / bits) to a word."""
    return -(-size // (WORD_BITS // bits))


def chunk_length(log_every: int, draws_per_step: int, num_inputs: int) -> int:
    """Steps drawn at once: the largest divisor of ``log_every`` whose draws fit CHUNK_BYTES (per
    step and lane: one float64 per drawn example index and multiplier, the input and the label;
    the random words themselves are fewer when masks share a word)."""
    per_step = 8 * LANES * (draws_per_step + num_inputs + 1)           # bytes
    cap = max(1, CHUNK_BYTES // per_step)
    return max(s for s in range(1, min(log_every, cap) + 1) if log_every % s == 0)


def _hash_words(key, steps, ranges):
    """Words first..first+count-1 of every step in ``steps`` (S,), for every lane and every
    (first, count) in ``ranges``: a list of (S, count, T) arrays. Each word pair is hashed once."""
    pairs = sorted({j for first, count in ranges for j in range(first // 2, (first + count + 1) // 2)})
    a, b = threefry2x32(key[0], key[1], steps.astype(jnp.uint32)[:, None, None],
                        jnp.asarray(pairs, jnp.uint32)[None, :, None])
    words = jnp.stack([a, b], axis=2).reshape(a.shape[:1] + (2 * len(pairs),) + a.shape[2:])
    column = {2 * j + half: 2 * i + half for i, j in enumerate(pairs) for half in (0, 1)}
    return [words[:, column[first]: column[first] + count] for first, count in ranges]


def _fields(block, size: int, bits: int):
    """Field i (0..size-1) of the words ``block`` (S, words, T): bits m*(i % f) .. m*(i % f)+m-1 of
    word floor(i / f), f = floor(32 / m) fields to a word (no field straddles two words)."""
    if bits == WORD_BITS:
        return block[:, :size]
    per_word = WORD_BITS // bits
    unit = np.arange(size)
    shift = jnp.asarray((unit % per_word) * bits, jnp.uint32)[None, :, None]
    return (block[:, unit // per_word] >> shift) & np.uint32((1 << bits) - 1)


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


def chunk_draws(noise: Noise, key, steps, keep, X, Y, widths, n_outs, fields, bits):
    """Everything random about steps ``steps`` (S,) of one tile: the inputs x (S, K, T) and labels
    (S, T) of the drawn examples, and each dropout layer's multiplier: (S, n_l, T) for node noise,
    (S, n_out, n_in, T) for DropConnect, None for a layer that carries no noise in any run.

    ``keep`` (S, d, T): the keep probability of every layer at every step and lane; ``fields``
    (static): for every layer the field widths its lanes use (empty: no noise in any lane);
    ``bits`` (d, T): each lane's field width (one of the layer's ``fields``). Layer l's draws
    start at word 1 + (its predecessors' sizes), whatever the widths: a lane's numbers depend on
    its key and its own widths alone.
    """
    sizes = layer_sizes(noise, widths, n_outs)
    starts = np.cumsum([1] + sizes[:-1])
    ranges = [(0, 1)] + [(int(start), max(words_for(size, m) for m in widths_l))
                         for start, size, widths_l in zip(starts, sizes, fields) if widths_l]
    blocks = iter(_hash_words(key, steps, ranges))
    u = next(blocks)[:, 0].astype(jnp.float64)
    index = jnp.floor(u * (X.shape[0] * 2.0 ** -32)).astype(jnp.int32)     # exact: u N < 2^53
    x, y = _pick_examples(index, X, Y)
    # kept when the field u < p 2^m, i.e. u <= ceil(p 2^m) - 1: an exact comparison of integers
    last_kept = (jnp.ceil(keep * (2.0 ** bits.astype(jnp.float64))[None]) - 1.0).astype(jnp.uint32)
    inverse = 1.0 / keep
    multipliers = []
    for layer, size in enumerate(sizes):
        if not fields[layer]:
            multipliers.append(None)
            continue
        block = next(blocks)                                                # (S, words, T)
        if noise.kind == "gaussian":
            z = jax.scipy.special.ndtri((block[:, :size].astype(jnp.float64) + 0.5) * 2.0 ** -32)
            p = keep[:, layer][:, None]                                     # (S, 1, T)
            value = 1.0 + jnp.sqrt((1.0 - p) / p) * z
        else:
            field = _fields(block, size, fields[layer][0])
            for m in fields[layer][1:]:
                field = jnp.where(bits[layer] == m, _fields(block, size, m), field)
            value = jnp.where(field <= last_kept[:, layer][:, None],
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

