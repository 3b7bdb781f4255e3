"""The example distributions of the paper as (X, Y) arrays with uniform example weights.

P_{x,y}: all mass on (x, y).  P_(x,y) (Definition 1): mass 1/2 on (x, y) and 1/2 on (0, 0).
P_(1,1): P_(x,y) with x = 1^K, y = 1, the distribution of Sections 4.1-4.2 (C7-C9).
"""

from __future__ import annotations

import numpy as np


def point_mass(x, y):
    """P_{x,y}: X = [x], Y = [y]."""
    return np.asarray([x], np.float64), np.asarray([y], np.float64)


def point_and_origin(x, y):
    """P_(x,y) (Definition 1): X = [x, 0], Y = [y, 0], each with probability 1/2."""
    x = np.asarray(x, np.float64)
    return np.stack([x, np.zeros_like(x)]), np.asarray([y, 0.0])


def p11(num_inputs: int):
    """P_(1,1) over K = num_inputs features: ((1, ..., 1), 1) and ((0, ..., 0), 0)."""
    return point_and_origin(np.ones(num_inputs), 1.0)
