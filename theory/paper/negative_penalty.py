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

from theory.paper.distributions import point_mass

def figure1_network():
    """(params, X, Y) of Figure 1 (C1): all weights 1, biases 0, P_{x,y} with x = (1, -1), y = 8."""
    params = ((np.ones((2, 2)), np.zeros(2)), (np.ones((1, 2)), np.zeros(1)))
    X, Y = point_mass([1.0, -1.0], 8.0)
    return params, X, Y


def rise_fall_rise_network():
    """(params, X, Y): a network whose penalty rises, falls below 0, then rises in q (C15; ours).

    x = (1, -1, -1), y = 10; hidden node A has weights (1, 0, 0) and is active whenever x1 is kept,
    adding output variance proportional to q at small q; node B has weights (1, 1, 1) and fires
    only when x1 is kept and both negative inputs are dropped (probability p q^2), shifting the
    mean towards the label. So the penalty E[delta^2] + 2 (W(x) - y) E[delta] first grows like q,
    then the q^2 mean shift takes over and pulls it below 0, and as q -> 1 the 1/p variance wins.
    """
    params = ((np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), np.zeros(2)),
              (np.ones((1, 2)), np.zeros(1)))
    X, Y = point_mass([1.0, -1.0, -1.0], 10.0)
    return params, X, Y
