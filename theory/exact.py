"""Exact dropout moments for the whole dropout family: enumerate what must be, integrate the rest.

Implements the "Exact computation" section of CLAIMS.md (Eq. 1 of Helmbold & Long 2017) for every
variant of :mod:`theory.noise`. For one example x and a noise realisation R, let D(W, x, R) be the
noisy output and delta = D(W, x, R) - W(x). Everything the suite needs is a function of the two
per-example moments E_R[delta] and E_R[delta^2]:

    J_D     = sum_x P(x) [ (W(x) - y)^2 + E[delta^2] + 2 (W(x) - y) E[delta] ]
    penalty = J_D - R = sum_x P(x) [ E[delta^2] + 2 (W(x) - y) E[delta] ]          (C14)

The expectation splits into an enumerated *outer* part and an integrated *tail*:

* outer: every pattern of the Bernoulli units before the tail, summed with its probability.
  Layers with keep 1 carry no noise and contribute no units.
* tail, conditional on the outer pattern, gives E[D | outer] and Var[D | outer] in closed form:

  - ``"output"`` (node and group dropout; any kind when d = 1): the output node reads the last
    dropout layer, whose noise m_j (mean 1, variance s = q/p) gives mean w . h + b and variance
    s sum_g (sum_{j in g} w_j h_j)^2 (one term per node without groups). On the output node,
    DropConnect and Gaussian noise have these same two moments.
  - ``"dropconnect"`` (d >= 2): given the values a of layer d-2, the last hidden units
    h_k = max(sum_i W_ki m_ki a_i / p + b_k, 0) are independent (each has its own row of weight
    masks), so each needs only its own 2^(n_{d-2}) row masks; then the output as above, with
    Var = sum_k w_k^2 ((1 + s) E[h_k^2] - E[h_k]^2).
  - ``"gaussian"`` (d >= 2): given a, the pre-activations of layer d-1 are jointly Gaussian, and
    :mod:`theory.gaussian_relu` gives E[h_k] and E[h_j h_k] in closed form.

=================  ==========================================  ===================================
noise              outer units (enumerated)                    tail
=================  ==========================================  ===================================
dropout            nodes / groups of layers 0..d-2             output (groups included)
dropconnect        weights read from layers 0..d-3             2^(n_{d-2}) row masks per unit
gaussian           none: layers 0..d-3 must have keep 1        bivariate-normal ReLU moments
=================  ==========================================  ===================================

Under the logistic and cross-entropy losses (:mod:`theory.losses`) the loss is not a polynomial of
D, so two moments do not suffice: :func:`expected_losses` enumerates every unit of every dropout
layer, the last hidden layer (and, for DropConnect, the output layer's weights) included, and
averages the loss of each pattern's outputs; Gaussian noise has no exact route there.

So d = 2 node dropout costs 2^K whatever the width (one pattern with the inputs kept), d = 2
DropConnect costs n_1 2^K (linear in the width) and d = 2 Gaussian dropout costs n_1^2 bivariate
moments per example. Outer patterns are decoded from their integer index inside ``jit``, in chunks
(a ``fori_loop``), so memory stays bounded by ``CHUNK_ELEMENTS`` floats per intermediate array.
Everything is pure JAX in the parameters, inputs and keep probabilities (``jax.grad`` applies).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from theory.compile_options import long_running_jit
from theory.gaussian_relu import relu_mean, relu_product_mean, relu_second_moment
from theory.losses import pointwise_loss, predictions
from theory.network import network_output, widths
from theory.noise import Noise, noise_variance, noisy_preactivation

MAX_PATTERNS = 2 ** 26
"""Default limit on enumerated patterns (outer patterns x tail row masks; for the Gaussian tail, the
n_{d-1}^2 unit pairs of its bivariate-normal moments). Measured on 2 CPU cores: 2^20 patterns take
about 0.2 s and 2^26 about 3 s for one example and width 20, the cost growing with examples x
width; a unit pair costs about 0.5 us per example (width 3000: 9 million pairs, 5 s per example, in
bounded memory)."""
MAX_PATTERNS_LIMIT_BITS = 40
MAX_PATTERNS_LIMIT = 2 ** MAX_PATTERNS_LIMIT_BITS
"""The largest max_patterns a caller may pass (2^40: hours of enumeration, and pattern indices and
loop counts stay well inside 64-bit integers)."""

CHUNK_ELEMENTS = 2 ** 21
"""Target number of floats in one (patterns x examples x width) intermediate array."""

SPLIT_ELEMENTS = 2 ** 20
"""The same for the split route (node dropout, :func:`_split_moments`)."""

GAUSSIAN_PAIR_ELEMENTS = 2 ** 18
"""Unit pairs (j, k) the Gaussian tail evaluates at once. Each bivariate-normal moment (Owen's T
function) keeps on the order of a hundred floats alive, so this bounds the route's memory to a few
hundred MB at any width: wider layers are taken in blocks of rows, examples in blocks of whole
matrices."""



def penalty_from_moments(f, mean_delta, mean_delta_sq, y):
    """Per-example dropout penalty E[delta^2] + 2 (W(x) - y) E[delta] (C14, Theorem 20)."""
    return mean_delta_sq + 2.0 * (f - y) * mean_delta


class Plan(NamedTuple):
    """The static shape of one exact evaluation (hashable: a ``jit`` static argument)."""

    kind: str
    groups: tuple            # per dropout layer: None or a tuple of group indices
    outer_layers: tuple      # dropout layers applied pattern by pattern, in order
    outer_units: tuple       # enumerated Bernoulli units of each outer layer (0: noiseless)
    tail: str                # "output", "dropconnect" or "gaussian"
    tail_bits: int           # row-mask bits of the DropConnect tail (0 otherwise)
    chunk: int               # outer patterns per chunk
    num_chunks: int
    tail_chunk: int          # row masks per chunk of the DropConnect tail
    example_block: int       # examples per block of the Gaussian tail
    split_bits: int = 0      # node dropout: units of the last outer layer in its tabulated half B
                             # (0: no split; see _split_moments)
    split_chunk: int = 1     # masks of the other half A per step of the split loop
    pair_rows: int = 0       # Gaussian tail: rows of the unit-pair matrix per block (0: all)

    @property
    def count(self) -> int:
        return 2 ** (sum(self.outer_units) + self.tail_bits)


def _structure(params, noise: Noise):
    """(outer layers, their unit counts, tail, tail bits) or a ValueError naming Monte Carlo."""
    d = len(params)
    sizes = widths(params)
    kind = noise.kind
    if kind == "dropout" or d == 1 or not noise.is_noisy(d - 2):
        outer = tuple(range(d - 1))      # (layer d-2 noiseless: only the output tail is random)
        tail = "output"
    else:
        outer = tuple(range(d - 2))
        tail = kind
    if kind == "gaussian":
        noisy = [layer for layer in outer if noise.is_noisy(layer)]
        if noisy:
            raise ValueError(
                f"no exact route for Gaussian noise on dropout layer {noisy[0]} of this depth-{d} "
                f"network: Gaussian noise is exact only on the last two dropout layers (layers "
                f"{max(d - 2, 0)}..{d - 1}; earlier layers need keep_prob 1), because below them it "
                "passes through more than one ReLU and no closed form exists. Use "
                "theory.mc_dropout_criterion for a Monte-Carlo estimate with a standard error.")
    units = []
    for layer in outer:
        if not noise.is_noisy(layer):
            units.append(0)
        elif kind == "dropconnect":
            units.append(int(np.size(params[layer][0])))
        else:
            units.append(noise.num_groups(layer, sizes[layer]))
    tail_bits = sizes[d - 2] if tail == "dropconnect" and noise.is_noisy(d - 2) else 0
    return outer, tuple(units), tail, tail_bits


def _every_unit(params, noise: Noise) -> tuple:
    """Enumerated units of every dropout layer (the route of the non-square losses), or a
    ValueError naming Monte Carlo for Gaussian noise."""
    noisy = [layer for layer in range(len(params)) if noise.is_noisy(layer)]
    if noise.kind == "gaussian" and noisy:
        raise ValueError(
            f"no exact route for Gaussian noise (dropout layer {noisy[0]} has keep < 1) under a loss "
            "other than 'square': the loss is not a polynomial of the output, so its expectation "
            "needs more than the output's two moments, and Gaussian noise has no finite patterns "
            "to enumerate. Use theory.mc_dropout_criterion for a Monte-Carlo estimate with a "
            "standard error.")
    sizes = widths(params)
    return tuple(0 if layer not in noisy
                 else int(np.size(params[layer][0])) if noise.kind == "dropconnect"
                 else noise.num_groups(layer, sizes[layer]) for layer in range(len(params)))


def _structure_count(params, units, tail, tail_bits) -> int:
    """Outer patterns x tail row masks; for the Gaussian tail, outer patterns x the n_{d-1}^2 unit
    pairs whose bivariate-normal moments it evaluates (counted as patterns: they bound its time)."""
    pairs = params[-2][0].shape[0] ** 2 if tail == "gaussian" else 1
    return 2 ** (sum(units) + tail_bits) * pairs


def count_patterns(params, noise: Noise, loss: str = "square") -> int:
    """The number of patterns the exact evaluator sums over (outer patterns x tail row masks, or x
    unit pairs for the Gaussian tail; every unit's patterns under the non-square losses)."""
    if loss != "square":
        return 2 ** sum(_every_unit(params, noise))
    _, units, tail, tail_bits = _structure(params, noise)
    return _structure_count(params, units, tail, tail_bits)


def check_max_patterns(max_patterns) -> int:
    """``max_patterns`` as an int; refused unless an integer from 1 to MAX_PATTERNS_LIMIT."""
    if isinstance(max_patterns, bool) or not isinstance(max_patterns, (int, np.integer)) \
            or not 1 <= max_patterns <= MAX_PATTERNS_LIMIT:
        limit = f"2^{MAX_PATTERNS_LIMIT_BITS}"
        raise ValueError(f"max_patterns must be an integer from 1 to {limit} (patterns are "
                         f"counted in 64-bit integers and {limit} already takes hours), got "
                         f"{max_patterns!r}")
    return int(max_patterns)


def _in_words(count: int) -> str:
    """A pattern count in words: 2^k and its digits when there are few of them, the digits
    alone when it is not a power of two (a count of 14,000 bits has no printable digits)."""
    bits = count.bit_length() - 1
    if count != 2 ** bits:
        return f"{count:,}"
    if bits <= MAX_PATTERNS_LIMIT_BITS:
        return f"2^{bits} = {count:,}"
    return f"2^{bits} (about 10^{int(bits * np.log10(2))})"


def _check_count(count: int, max_patterns, what: str) -> None:
    max_patterns = check_max_patterns(max_patterns)
    if count > max_patterns:
        raise ValueError(
            f"exact evaluation of this network needs {_in_words(count)} enumerated patterns "
            f"({what}), above the limit max_patterns = {max_patterns:,}. Use "
            "theory.mc_dropout_criterion for a Monte-Carlo estimate with a standard error, or pass "
            f"a larger max_patterns (at most 2^{MAX_PATTERNS_LIMIT_BITS}) if you can afford the "
            "time.")


def make_plan(params, noise: Noise, num_examples: int, max_patterns: int = MAX_PATTERNS, *,
              split_route: bool = True) -> Plan:
    """Check that an exact route exists within ``max_patterns`` and fix the chunk sizes.

    ``split_route``: node dropout shares work between patterns (:func:`_split_moments`); False
    evaluates every pattern on its own (the baseline ``make bench`` times the split route against,
    and a second exact route the tests check it against beyond brute force's reach)."""
    outer, units, tail, tail_bits = _structure(params, noise)
    _check_count(_structure_count(params, units, tail, tail_bits), max_patterns,
                 f"{noise.kind}: {_describe_units(noise.kind)}")
    sizes = widths(params)
    # Floats per example in the largest intermediate of one pattern: a layer's values, or (with
    # DropConnect masks) a masked weight matrix, or the tail's row-mask chunk of unit values.
    per_pattern = max([*sizes, *(np.size(W) for W, _ in params[:-1])]) \
        if noise.kind == "dropconnect" else max(sizes)
    tail_chunk = _largest_power_of_two(2 ** tail_bits, CHUNK_ELEMENTS // (
        num_examples * 2 * params[-2][0].shape[0])) if tail == "dropconnect" else 1
    if tail == "dropconnect":
        per_pattern = max(per_pattern, tail_chunk * params[-2][0].shape[0])
    example_block = max(1, GAUSSIAN_PAIR_ELEMENTS // sizes[-1] ** 2) if tail == "gaussian" else 1
    pair_rows = 0 if tail != "gaussian" or sizes[-1] ** 2 <= GAUSSIAN_PAIR_ELEMENTS \
        else max(1, GAUSSIAN_PAIR_ELEMENTS // sizes[-1])
    if split_route and noise.kind == "dropout" and tail == "output" and units and units[-1] > 1:
        # Split route (_split_moments): per prefix pattern, a table of 2^b partial sums of half B,
        # and 2^a masks of half A added to it, `split_chunk` at a time.
        per_mask = num_examples * params[outer[-1]][0].shape[0]          # examples x n_out
        # The table takes about a quarter of the budget, the masks of A added to it the rest.
        b = min(units[-1] - 1, max(1, int(np.log2(max(SPLIT_ELEMENTS // (4 * per_mask), 1)))))
        a_chunk = _largest_power_of_two(2 ** (units[-1] - b), SPLIT_ELEMENTS // (2 ** b * per_mask))
        prefix = 2 ** sum(units[:-1])
        chunk = _largest_power_of_two(prefix, SPLIT_ELEMENTS // (a_chunk * 2 ** b * per_mask))
        return Plan(kind=noise.kind, groups=noise.groups, outer_layers=outer, outer_units=units,
                    tail=tail, tail_bits=0, chunk=chunk, num_chunks=prefix // chunk, tail_chunk=1,
                    example_block=1, split_bits=b, split_chunk=a_chunk)
    outer_count = 2 ** sum(units)
    chunk = _largest_power_of_two(outer_count, CHUNK_ELEMENTS // (num_examples * per_pattern))
    return Plan(kind=noise.kind, groups=noise.groups, outer_layers=outer, outer_units=units,
                tail=tail, tail_bits=tail_bits, chunk=chunk, num_chunks=outer_count // chunk,
                tail_chunk=tail_chunk, example_block=min(example_block, num_examples),
                pair_rows=pair_rows)


def _largest_power_of_two(count: int, budget: int) -> int:
    """The largest power of two that divides ``count`` (itself a power of two) within ``budget``."""
    chunk = 1
    while chunk * 2 <= count and chunk * 2 <= budget:
        chunk *= 2
    return chunk


def _describe_units(kind: str) -> str:
    return {"dropout": "the nodes or groups of the inputs and hidden layers 1..d-2; the last hidden "
                       "layer is integrated analytically",
            "dropconnect": "every weight read from dropout layers 0..d-3, times the 2^(n_{d-2}) "
                           "row masks of each last hidden unit",
            "gaussian": "the n_{d-1}^2 pairs of last hidden units whose bivariate-normal "
                        "moments the tail evaluates, counted as patterns"}[kind]


def _bits(index, num_bits: int):
    return ((index[:, None] >> jnp.arange(num_bits, dtype=jnp.int64)) & 1).astype(bool)


def output_layer_moments(params, h, keep_last, group_index, unit_axis=-1):
    """E[D | h] and Var[D | h] when only the noise of the last dropout layer is random: h (..., n)
    are that layer's values (units on ``unit_axis``), ``keep_last`` its keep probability,
    ``group_index`` its groups (None: independent nodes). The same for every kind of noise (one
    weight per node on the output)."""
    w, b = params[-1][0][0], params[-1][1][0]
    s = noise_variance(keep_last)
    # Sums rather than products with w: XLA fuses them with whatever produced h (no copy of h).
    hw = h * w.reshape((-1,) + (1,) * (-1 - unit_axis))
    if group_index is None:
        var = jnp.sum(jnp.square(hw), axis=unit_axis)
    else:
        one_hot = np.eye(max(group_index) + 1)[np.asarray(group_index)]       # (n, G)
        var = jnp.sum(jnp.square(jnp.moveaxis(hw, unit_axis, -1) @ one_hot), axis=-1)
    return jnp.sum(hw, axis=unit_axis) + b, s * var


def _output_tail(plan: Plan, params, h, keep):
    return output_layer_moments(params, h, keep[-1], plan.groups[-1])


def _dropconnect_tail(plan: Plan, params, a, keep):
    """E[D | a], Var[D | a] given the values a (..., n_in) of dropout layer d-2 (see module doc)."""
    (W, b), (w_out, b_out) = params[-2], params[-1]
    w, b_out = w_out[0], b_out[0]
    if plan.tail_bits == 0:
        h = jnp.maximum(a @ W.T + b, 0.0)
        mean_h, mean_h_sq = h, jnp.square(h)
    else:
        p = keep[-2]
        contribution = a[..., None, :] * W / p                       # (..., n_out, n_in)
        zeros = jnp.zeros(contribution.shape[:-1], a.dtype)

        def row_chunk(i, acc):
            index = i * plan.tail_chunk + jnp.arange(plan.tail_chunk, dtype=jnp.int64)
            kept = _bits(index, plan.tail_bits)                       # (R, n_in)
            prob = jnp.prod(jnp.where(kept, p, 1.0 - p), axis=1)     # (R,)
            h = jnp.maximum(jnp.einsum("ri,...ji->...rj", kept.astype(a.dtype), contribution)
                            + b, 0.0)                                  # (..., R, n_out)
            return (acc[0] + jnp.einsum("r,...rj->...j", prob, h),
                    acc[1] + jnp.einsum("r,...rj->...j", prob, jnp.square(h)))

        num = 2 ** plan.tail_bits // plan.tail_chunk
        mean_h, mean_h_sq = jax.lax.fori_loop(0, num, row_chunk, (zeros, zeros))
    s = noise_variance(keep[-1])
    var = ((1.0 + s) * mean_h_sq - jnp.square(mean_h)) @ jnp.square(w)
    return mean_h @ w + b_out, var


def _gaussian_tail(plan: Plan, params, a, keep):
    """E[D | a], Var[D | a] given the values a (..., N, n_in) of dropout layer d-2, Gaussian noise
    on layers d-2 and d-1 (see module doc and :mod:`theory.gaussian_relu`). The quadratic form
    w' Cov[h] w is summed over blocks of ``plan.pair_rows`` rows when the layer is wide."""
    (W, b), (w_out, b_out) = params[-2], params[-1]
    w, b_out = w_out[0], b_out[0]
    s_in, s_out = noise_variance(keep[-2]), noise_variance(keep[-1])
    n = W.shape[0]
    rows = plan.pair_rows or n
    num_blocks = -(-n // rows)

    def quadratic_form(row_index, mu_r, sd_r, mean_r, w_r, cov_r, mu, sd, mean_h, second_diag):
        """sum over rows r, columns k of w_r Cov[h_r, h_k] w_k for a block of rows."""
        second = jnp.where(row_index[:, None] == jnp.arange(n)[None, :], second_diag[None, :],
                           relu_product_mean(mu_r[:, None], mu[None, :], sd_r[:, None],
                                             sd[None, :], cov_r))          # E[h_r h_k]
        return w_r @ (second - jnp.outer(mean_r, mean_h)) @ w

    def one_example(x):                                                # x: (n_in,)
        mu = W @ x + b
        cov = s_in * (W * jnp.square(x)) @ W.T                        # (n_out, n_out)
        variance = jnp.diagonal(cov)         # 0 where x = 0: sqrt's derivative there is infinite,
        random = variance > 0                # so it is taken only where the variance is positive
        sd = jnp.where(random, jnp.sqrt(jnp.where(random, variance, 1.0)), 0.0)
        mean_h = relu_mean(mu, sd)
        second_diag = relu_second_moment(mu, sd)
        columns = (mu, sd, mean_h, second_diag)
        if num_blocks == 1:
            quad = quadratic_form(jnp.arange(n), mu, sd, mean_h, w, cov, *columns)
        else:                  # rows padded with zeros (weight 0) to whole blocks
            pad = num_blocks * rows - n
            padded = [jnp.pad(v, (0, pad)) for v in (mu, sd, mean_h, w)]
            cov_padded = jnp.pad(cov, ((0, pad), (0, 0)))

            def block(i, total):
                start = i * rows
                part = [jax.lax.dynamic_slice_in_dim(v, start, rows) for v in padded]
                cov_r = jax.lax.dynamic_slice_in_dim(cov_padded, start, rows)
                return total + quadratic_form(start + jnp.arange(rows), *part, cov_r, *columns)

            quad = jax.lax.fori_loop(0, num_blocks, block, jnp.zeros((), x.dtype))
        var = quad + s_out * (second_diag @ jnp.square(w))
        return mean_h @ w + b_out, var

    flat = a.reshape(-1, a.shape[-1])
    if flat.shape[0] <= plan.example_block:
        mean, var = jax.vmap(one_example)(flat)
    else:
        mean, var = jax.lax.map(one_example, flat, batch_size=plan.example_block)
    return mean.reshape(a.shape[:-1]), var.reshape(a.shape[:-1])


_TAILS = {"output": _output_tail, "dropconnect": _dropconnect_tail, "gaussian": _gaussian_tail}


def _pattern_probabilities(kept, unit_keep):
    """P(pattern) for patterns ``kept`` (C, m) of independent units kept with ``unit_keep`` (m,)."""
    return jnp.prod(jnp.where(kept, unit_keep, 1.0 - unit_keep), axis=1)


def _unit_keeps(layers, units, keep, dtype):
    """The keep probability of every enumerated unit of ``layers`` (``units`` of each), in order."""
    return jnp.concatenate([jnp.full((u,), keep[layer]) for layer, u in zip(layers, units)]
                           + [jnp.zeros((0,), dtype)])


def _outer_values(plan: Plan, params, X, keep, kept, layers, units):
    """The values (1 or C, N, n) after the outer ``layers`` under patterns ``kept`` (C, sum units);
    ReLU after every layer but the output layer (enumerated only under the non-square losses)."""
    a = X[None]                                                              # (1 or C, N, n)
    offset = 0
    for layer, count in zip(layers, units):
        W, b = params[layer]
        value = None
        if count:
            value = kept[:, offset:offset + count]
            offset += count
            value = value.reshape((-1, 1) + W.shape) if plan.kind == "dropconnect" \
                else value[:, None, :]
        a = noisy_preactivation(plan.kind, plan.groups[layer], a, W, b, value, keep[layer])
        if layer < len(params) - 1:
            a = jnp.maximum(a, 0.0)
    return a


def _chunked(plan: Plan, chunk_sums, init):
    """Sum ``chunk_sums(i, acc)`` over the plan's chunks of outer patterns, starting from init."""
    if plan.num_chunks == 1:                    # no loop: a smaller program compiles faster
        return chunk_sums(0, init)
    return jax.lax.fori_loop(0, plan.num_chunks, chunk_sums, init)


def _zeros(X):
    return (jnp.zeros(X.shape[0], X.dtype),) * 2


LONG_ENUMERATION = 2 ** 22
"""Patterns (times Gaussian unit pairs) x examples x the widest layer, from which an enumeration runs
long enough (tens of milliseconds and more) to be compiled with XLA's full optimisation
(:mod:`theory.compile_options`) when it is called on its own; inside another program the outer
program's options apply."""


def long_enumeration(params, X, *_, plan: Plan, **__) -> bool:
    """True when the plan's patterns (times Gaussian unit pairs) x examples x the widest layer
    reach :data:`LONG_ENUMERATION`."""
    return _structure_count(params, plan.outer_units, plan.tail, plan.tail_bits) \
        * X.shape[0] * max(widths(params)) >= LONG_ENUMERATION


@long_running_jit(static_argnames=("plan",), long_if=long_enumeration)
def _enumerate(params, X, keep, *, plan: Plan):
    f = network_output(params, X)
    if plan.split_bits:
        return (f,) + tuple(_split_moments(plan, params, X, keep, f))
    unit_keep = _unit_keeps(plan.outer_layers, plan.outer_units, keep, X.dtype)
    tail = _TAILS[plan.tail]

    def chunk_moments(i, acc):
        index = i * plan.chunk + jnp.arange(plan.chunk, dtype=jnp.int64)
        kept = _bits(index, sum(plan.outer_units))                           # (C, m)
        prob = _pattern_probabilities(kept, unit_keep)                       # (C,)
        a = _outer_values(plan, params, X, keep, kept, plan.outer_layers, plan.outer_units)
        mean, var = tail(plan, params, a, keep)                              # (1 or C, N)
        mean_delta = mean - f
        e1, e2 = acc
        return (e1 + prob @ jnp.broadcast_to(mean_delta, (plan.chunk,) + f.shape),
                e2 + prob @ jnp.broadcast_to(jnp.square(mean_delta) + var, (plan.chunk,) + f.shape))

    return (f,) + tuple(_chunked(plan, chunk_moments, _zeros(X)))


def _split_moments(plan: Plan, params, X, keep, f):
    """E[delta], E[delta^2] for node dropout by sharing work between patterns (subset sums).

    The last outer layer l reads values a (given the patterns of the earlier outer layers, the
    prefix) and feeds the last hidden layer z = sum_g m_g c_g + b, where c_g = W (a restricted to
    group g) / p is group g's contribution and m_g in {0, 1} its mask. Split the groups into halves
    A and B: z = z_A(m_A) + z_B(m_B) + b. Per prefix pattern we tabulate z_B + b for all 2^b masks
    of B once, then add z_A of each mask of A to the whole table. A pattern then costs O(n_out)
    (one addition per unit, the ReLU and the output tail) instead of the O(n_in n_out) of its own
    matrix-vector product; the probability of a pattern is the product of its three parts'.
    """
    layer = plan.outer_layers[-1]
    W, b = params[layer]
    p = keep[layer]
    units, b_bits = plan.outer_units[-1], plan.split_bits
    a_bits = units - b_bits
    groups = plan.groups[layer]
    member = jnp.asarray(np.eye(units)[np.asarray(groups)].T if groups is not None
                         else np.eye(units), X.dtype)                       # (G, n_in)
    prefix_layers, prefix_units = plan.outer_layers[:-1], plan.outer_units[:-1]
    prefix_keep = _unit_keeps(prefix_layers, prefix_units, keep, X.dtype)
    masks_b = _bits(jnp.arange(2 ** b_bits, dtype=jnp.int64), b_bits)         # (2^b, b)
    prob_b = _pattern_probabilities(masks_b, jnp.full((b_bits,), p))
    prob_a_all = _pattern_probabilities(_bits(jnp.arange(2 ** a_bits, dtype=jnp.int64), a_bits),
                                        jnp.full((a_bits,), p))
    num_a_chunks = 2 ** a_bits // plan.split_chunk

    def chunk_moments(i, acc):
        index = i * plan.chunk + jnp.arange(plan.chunk, dtype=jnp.int64)
        kept = _bits(index, sum(prefix_units))                               # (C, m)
        prob = _pattern_probabilities(kept, prefix_keep)                     # (C,)
        a = _outer_values(plan, params, X, keep, kept, prefix_layers, prefix_units)
        contribution = jnp.einsum("gi,...ni,ji->...ngj", member, a, W) / p    # (1|C, N, G, n_out)
        # Masks of B on the last axis: the sums over units then run along whole vectors of masks.
        table_b = jnp.einsum("mg,...ngj->...njm", masks_b.astype(X.dtype),
                             contribution[..., a_bits:, :]) + b[:, None]      # (1|C, N, n_out, 2^b)

        def a_chunk(j, acc):
            index_a = j * plan.split_chunk + jnp.arange(plan.split_chunk, dtype=jnp.int64)
            masks_a = _bits(index_a, a_bits).astype(X.dtype)                  # (A, a)
            z_a = jnp.einsum("mg,...ngj->...mnj", masks_a, contribution[..., :a_bits, :])
            h = jnp.maximum(z_a[..., None] + table_b[..., None, :, :, :], 0.0)  # (1|C, A, N, n_out, 2^b)
            mean, var = output_layer_moments(params, h, keep[-1], plan.groups[-1], unit_axis=-2)
            mean_delta = mean - f[:, None]                                   # (1|C, A, N, 2^b)
            weight = (prob[:, None, None] * jax.lax.dynamic_slice_in_dim(
                prob_a_all, j * plan.split_chunk, plan.split_chunk)[None, :, None]
                * prob_b[None, None, :])                                     # (C, A, 2^b)
            weight = weight.sum(axis=0, keepdims=True) if mean.shape[0] == 1 else weight
            weight = weight[:, :, None, :]                                   # (C, A, 1, 2^b)
            e1, e2 = acc
            # Weighted sums along the masks' axis first, in the layout h was made in. As one
            # contraction over (C, A, 2^b), XLA lays the moments out masks-first: without YNNPACK
            # that transposing copy took two thirds of real_depth's depth-4 penalties (3x slower).
            return (e1 + jnp.sum(weight * mean_delta, axis=-1).sum(axis=(0, 1)),
                    e2 + jnp.sum(weight * (jnp.square(mean_delta) + var), axis=-1).sum(axis=(0, 1)))

        if num_a_chunks == 1:
            return a_chunk(0, acc)
        return jax.lax.fori_loop(0, num_a_chunks, a_chunk, acc)

    return _chunked(plan, chunk_moments, _zeros(X))


def delta_moments(params, X, noise: Noise, *, max_patterns: int = MAX_PATTERNS,
                  split_route: bool = True):
    """Per-example W(x), E_R[delta] and E_R[delta^2], delta = D(W, x, R) - W(x), exactly.

    ``params`` and ``X`` must already be validated float64 arrays (see :mod:`theory.network`) and
    ``noise`` a :class:`theory.noise.Noise` (see :func:`theory.noise.as_noise`). Pure JAX in params,
    X and the keep probabilities (jit, vmap and grad apply); the number of patterns is fixed by the
    shapes and the noiseless layers, and checked against ``max_patterns``; ``split_route`` as in
    :func:`make_plan`.
    """
    plan = make_plan(params, noise, X.shape[0], max_patterns, split_route=split_route)
    return _enumerate(params, X, noise.keep_array(X.dtype), plan=plan)


def make_loss_plan(params, noise: Noise, num_examples: int, max_patterns: int = MAX_PATTERNS) -> Plan:
    """The plan of :func:`expected_losses`: every unit of every dropout layer enumerated."""
    units = _every_unit(params, noise)
    _check_count(2 ** sum(units), max_patterns,
                 f"{noise.kind} under a non-square loss: every "
                 f"{'weight' if noise.kind == 'dropconnect' else 'node or group'} of every dropout "
                 "layer, the last hidden layer included")
    num_outputs = params[-1][0].shape[0]
    per_pattern = max(max(np.size(W) for W, _ in params) if noise.kind == "dropconnect"
                      else max(widths(params)), num_outputs)
    count = 2 ** sum(units)
    chunk = _largest_power_of_two(count, CHUNK_ELEMENTS // (num_examples * per_pattern))
    return Plan(kind=noise.kind, groups=noise.groups, outer_layers=tuple(range(len(params))),
                outer_units=units, tail="none", tail_bits=0, chunk=chunk, num_chunks=count // chunk,
                tail_chunk=1, example_block=1)


def _every_pattern_chunk(plan: Plan, params, X, keep, unit_keep, i):
    """Chunk ``i`` of a plan that enumerates every unit (:func:`make_loss_plan`): the patterns'
    probabilities (C,) and the network's outputs under them (C or 1, N, outputs)."""
    index = i * plan.chunk + jnp.arange(plan.chunk, dtype=jnp.int64)
    kept = _bits(index, sum(plan.outer_units))                               # (C, m)
    outputs = _outer_values(plan, params, X, keep, kept, plan.outer_layers, plan.outer_units)
    return _pattern_probabilities(kept, unit_keep), outputs


@long_running_jit(static_argnames=("plan", "loss"), long_if=long_enumeration)
def _enumerate_losses(params, X, Y, keep, *, plan: Plan, loss: str):
    unit_keep = _unit_keeps(plan.outer_layers, plan.outer_units, keep, X.dtype)

    def chunk_losses(i, acc):
        prob, outputs = _every_pattern_chunk(plan, params, X, keep, unit_keep, i)
        losses = pointwise_loss(loss, outputs, Y)                            # (1 or C, N)
        return (acc[0] + prob @ jnp.broadcast_to(losses, (plan.chunk,) + Y.shape),)

    return _chunked(plan, chunk_losses, (jnp.zeros(X.shape[0], X.dtype),))[0]


def expected_losses(params, X, Y, noise: Noise, loss: str, *, max_patterns: int = MAX_PATTERNS):
    """Per-example E_R l(D(W, x, R), y) under a loss of :mod:`theory.losses`, exactly, by
    enumerating every pattern of every dropout layer (Eq. 1 of Helmbold & Long 2017 with l in place
    of the square loss). ``params``, ``X``, ``Y`` validated (labels as :func:`theory.losses.
    check_labels` returns them); pure JAX in params, X and the keep probabilities."""
    plan = make_loss_plan(params, noise, X.shape[0], max_patterns)
    return _enumerate_losses(params, X, jnp.asarray(Y), noise.keep_array(X.dtype), plan=plan,
                             loss=loss)


@long_running_jit(static_argnames=("plan", "loss"), long_if=long_enumeration)
def _enumerate_prediction_moments(params, X, keep, center, *, plan: Plan, loss: str):
    unit_keep = _unit_keeps(plan.outer_layers, plan.outer_units, keep, X.dtype)

    def chunk_moments(i, acc):
        prob, outputs = _every_pattern_chunk(plan, params, X, keep, unit_keep, i)
        value = jnp.broadcast_to(predictions(loss, outputs),
                                 (plan.chunk,) + center.shape)               # (C, N, outputs)
        deviation = jnp.abs(value - center)
        first, second, third, largest = acc
        return (first + jnp.einsum("c,cno->no", prob, value),
                second + jnp.einsum("c,cno->no", prob, jnp.square(deviation)),
                third + jnp.einsum("c,cno->no", prob, deviation ** 3),
                jnp.maximum(largest, deviation.max(axis=0)))

    zeros = jnp.zeros_like(center)
    return _chunked(plan, chunk_moments, (zeros,) * 4)


def prediction_moments(params, X, noise: Noise, loss: str, *, max_patterns: int = MAX_PATTERNS):
    """Per example and output, the exact distribution summary of one stochastic forward pass's
    prediction s(R) (:func:`theory.losses.predictions`: the output, sigmoid or softmax): its mean
    E_R s, variance, third absolute central moment E_R |s - E s|^3 and largest deviation
    max_R |s - E s| over patterns, by enumerating every pattern of every dropout layer (two passes:
    the mean, then the moments about it). ``params``, ``X`` validated; shapes (N, outputs)."""
    plan = make_loss_plan(params, noise, X.shape[0], max_patterns)
    keep = noise.keep_array(X.dtype)
    num_outputs = params[-1][0].shape[0]
    center = jnp.zeros((X.shape[0], num_outputs), X.dtype)
    mean = _enumerate_prediction_moments(params, X, keep, center, plan=plan, loss=loss)[0]
    _, variance, third, largest = _enumerate_prediction_moments(params, X, keep, mean, plan=plan,
                                                                loss=loss)
    return mean, variance, third, largest
