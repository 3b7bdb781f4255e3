"""Random networks and data for the tests."""

import numpy as np

from theory.network import random_network


def random_case(seed, *, max_nodes=12):
    """A random small network with negative weights, biases and inputs, several examples with
    unequal probabilities and a keep probability: (params, X, Y, weights, keep_prob)."""
    rng = np.random.default_rng(seed)
    while True:
        K = int(rng.integers(1, 4))
        d = int(rng.integers(1, 5))
        hidden = [int(rng.integers(1, 4)) for _ in range(d - 1)]
        if K + sum(hidden) <= max_nodes:
            break
    params = random_network(rng, [K, *hidden, 1])
    N = int(rng.integers(1, 5))
    X = rng.normal(size=(N, K)) * 1.5
    Y = rng.normal(size=N) * 2
    weights = rng.dirichlet(np.ones(N))
    keep_prob = float(rng.choice([0.2, 0.5, 0.7, 0.9, 1.0]))
    return params, X, Y, weights, keep_prob


def networks(K, *, depths=(1, 2, 3), max_width=3, widths=None, nonnegative_weights=False,
             nonnegative_biases=False, magnitude=2.0):
    """Hypothesis strategy: params for K inputs, a depth from ``depths`` and one width for every
    hidden layer, drawn from ``widths`` (a strategy; default 1..max_width). One width per network
    keeps the number of distinct shapes small: every new shape compiles the exact engine's
    programs again (about 0.3 s each), and networks of unequal widths are the brute-force tests'
    business (tests/test_exact.py, tests/test_family.py)."""
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    def values(shape, nonnegative):
        low = 0.0 if nonnegative else -magnitude
        return arrays(np.float64, shape, elements=st.floats(low, magnitude, width=64))

    @st.composite
    def build(draw):
        d = draw(st.sampled_from(depths))
        width = draw(st.integers(1, max_width) if widths is None else widths)
        sizes = [K] + [width] * (d - 1) + [1]
        return tuple((draw(values((n_out, n_in), nonnegative_weights)),
                      draw(values((n_out,), nonnegative_biases)))
                     for n_in, n_out in zip(sizes[:-1], sizes[1:]))

    return build()


def best_output_scale_and_bias(params, X, Y, *, keep_prob, weights=None):
    """min over alpha >= 0 and beta of J_D when the output becomes alpha * (w . h) + beta.

    J_D is a quadratic in (alpha, beta): sum_x P(x) [(alpha m_x + beta - y)^2 + alpha^2 v_x] with
    m_x, v_x the exact dropout mean and variance of w . h. Keeps the weights' signs (alpha >= 0).
    """
    import theory

    weights = np.full(len(Y), 1 / len(Y)) if weights is None else np.asarray(weights)
    (w, _), hidden = params[-1], params[:-1]
    m, v = theory.output_moments(hidden + ((w, np.zeros(1)),), X, keep_prob=keep_prob)
    A = np.array([[weights @ (m * m + v), weights @ m], [weights @ m, 1.0]])
    rhs = np.array([weights @ (m * Y), weights @ Y])
    alpha, beta = np.linalg.lstsq(A, rhs, rcond=None)[0]
    if alpha < 0:
        alpha, beta = 0.0, weights @ Y
    return float(weights @ (np.square(alpha * m + beta - Y) + alpha ** 2 * v))
