"""The dropout penalty can be negative: the Figure 1 network (C1) and when it cannot be (C13).

Figure 1 / Eq. 2 (C1): K = 2, d = 2, n = 2, all weights 1, all biases 0, the single example
x = (1, -1), y = 8, p = 1/2. Without dropout both hidden nodes output 0, so R = 64; over the 16
equally likely patterns the output is 8 once, 4 twice and 0 thirteen times, so J_D = 54 and the
penalty is -10.

Theorem 19 (C13): the penalty can be negative only if some weight, bias or input is negative;
otherwise no ReLU clips (:func:`theory.linear_regime.linear_regime_applies`), E_R D(W, x, R) = W(x)
and the penalty is the variance of the dropout output.
"""

from __future__ import annotations

import numpy as np

from theory.distributions import point_mass

def figure1_network():
    """(params, X, Y) of Figure 1 (C1): all weights 1, biases 0, P_{x,y} with x = (1, -1), y = 8."""
    params = ((np.ones((2, 2)), np.zeros(2)), (np.ones((1, 2)), np.zeros(1)))
    X, Y = point_mass([1.0, -1.0], 8.0)
    return params, X, Y
