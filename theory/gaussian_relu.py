"""First and second moments of the ReLU of jointly Gaussian variables, to double precision.

The exact route for Gaussian (multiplicative) dropout: when noise N(1, s) multiplies the nodes of
layer d-2, the pre-activations z of layer d-1 are jointly Gaussian given x, with mean mu = W a + b and
covariance C_jk = s sum_i W_ji W_ki a_i^2, and the output needs E[z_j^+] and E[z_j^+ z_k^+].

For Z ~ N(mu, sd^2) (z^+ = max(z, 0), phi and Phi the standard normal density and distribution):

    E[Z^+] = mu Phi(mu/sd) + sd phi(mu/sd)

For (X, Y) bivariate normal with means mu_1, mu_2, standard deviations s_1, s_2 > 0, correlation rho,
|rho| < 1, r = sqrt(1 - rho^2), a_i = mu_i / s_i (Rosenbaum, "Moments of a truncated bivariate normal
distribution", JRSS B 1961, restated for the untruncated product of the positive parts):

    E[X^+ Y^+] = (mu_1 mu_2 + rho s_1 s_2) Phi_2(a_1, a_2; rho)
                 + mu_1 s_2 phi(a_2) Phi((a_1 - rho a_2)/r) + mu_2 s_1 phi(a_1) Phi((a_2 - rho a_1)/r)
                 + s_1 s_2 r phi(a_1) phi((a_2 - rho a_1)/r)

with Phi_2 the bivariate normal distribution function, computed from Owen's T function (Owen, "Tables
for computing bivariate normal probabilities", Ann. Math. Statist. 1956):

    Phi_2(h, k; rho) = Phi(h)/2 + Phi(k)/2 - T(h, (k - rho h)/(h r)) - T(k, (h - rho k)/(k r)) - beta,

beta = 1/2 when h and k have opposite signs, else 0. The degenerate cases have their own exact forms:
s_i = 0 (a constant, E = mu_i^+ E[other^+]); rho = 1 (Y an increasing function of X, one Gaussian
integral over the region where both are positive); rho = -1 (the region between the two kinks). All
branches are pure JAX and safe under ``jax.grad`` (the unused branch never sees a zero divisor).

Accuracy. Near |rho| = 1, r is tiny and a_1 - rho a_2 must not lose its last digits to
cancellation (without a fused multiply-add they are amplified by 1/r): it is computed as
(a_1 - a_2) + (1 - rho) a_2 (for rho < 0, (a_1 + a_2) - (1 + rho) a_2), where 1 -+ rho is exact. The
values then agree with 30-digit quadrature to float64 rounding for 1 - |rho| down to 1e-10 and at
+-1 (tests/test_family.py). A unit with itself uses :func:`relu_second_moment`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, owens_t
from jax.scipy.stats import norm

_TINY = 1e-150   # stands in for an exact 0 in Owen's formula, where Phi_2 is continuous


def relu_second_moment(mu, sd):
    """E[max(Z, 0)^2] for Z ~ N(mu, sd^2), sd >= 0: (mu^2 + sd^2) Phi(mu/sd) + mu sd phi(mu/sd)."""
    positive = sd > 0
    safe_sd = jnp.where(positive, sd, 1.0)
    a = mu / safe_sd
    return jnp.where(positive, (mu * mu + safe_sd * safe_sd) * ndtr(a) + mu * safe_sd * norm.pdf(a),
                     jnp.square(jnp.maximum(mu, 0.0)))


def relu_mean(mu, sd):
    """E[max(Z, 0)] for Z ~ N(mu, sd^2), sd >= 0 (sd = 0: max(mu, 0))."""
    positive = sd > 0
    safe_sd = jnp.where(positive, sd, 1.0)
    a = mu / safe_sd
    return jnp.where(positive, mu * ndtr(a) + safe_sd * norm.pdf(a), jnp.maximum(mu, 0.0))


def _minus_rho_times(x, y, rho):
    """x - rho y, accurate when |rho| is near 1 (where it is divided by the tiny sqrt(1 - rho^2)):
    (x - y) + (1 - rho) y for rho >= 0, (x + y) - (1 + rho) y otherwise; 1 -+ rho is exact there."""
    return jnp.where(rho >= 0, (x - y) + (1.0 - rho) * y, (x + y) - (1.0 + rho) * y)


@jax.custom_jvp
def bivariate_normal_cdf(h, k, rho):
    """P(U <= h, V <= k) for standard normals U, V with correlation |rho| < 1 (Owen 1956).

    Differentiated by its known partial derivatives (custom JVP), so the derivative is exact at
    h = 0 or k = 0 too: d/dh = phi(h) Phi((k - rho h)/r), d/dk likewise, d/drho = the density.
    """
    h = jnp.where(h == 0, _TINY, h)
    k = jnp.where(k == 0, _TINY, k)
    r = jnp.sqrt((1.0 - rho) * (1.0 + rho))
    beta = jnp.where((h < 0) != (k < 0), 0.5, 0.0)
    t = owens_t(jnp.stack(jnp.broadcast_arrays(h, k)),       # one call for both terms: half the
                jnp.stack(jnp.broadcast_arrays(_minus_rho_times(k, h, rho) / (h * r),   # program
                                               _minus_rho_times(h, k, rho) / (k * r))))
    return 0.5 * ndtr(h) + 0.5 * ndtr(k) - t[0] - t[1] - beta


@bivariate_normal_cdf.defjvp
def _bivariate_normal_cdf_jvp(primals, tangents):
    h, k, rho = primals
    dh, dk, drho = tangents
    r = jnp.sqrt((1.0 - rho) * (1.0 + rho))
    density = jnp.exp(-(h * h - 2.0 * rho * h * k + k * k) / (2.0 * r * r)) / (2.0 * jnp.pi * r)
    tangent = (norm.pdf(h) * ndtr((k - rho * h) / r) * dh
               + norm.pdf(k) * ndtr((h - rho * k) / r) * dk + density * drho)
    return bivariate_normal_cdf(h, k, rho), tangent


def _product_general(a1, a2, rho):
    """E[(U + a1)^+ (V + a2)^+] for standard normals with correlation |rho| < 1."""
    r = jnp.sqrt((1.0 - rho) * (1.0 + rho))
    u = _minus_rho_times(a1, a2, rho) / r
    v = _minus_rho_times(a2, a1, rho) / r
    return ((a1 * a2 + rho) * bivariate_normal_cdf(a1, a2, rho) + a1 * norm.pdf(a2) * ndtr(u)
            + a2 * norm.pdf(a1) * ndtr(v) + r * norm.pdf(a1) * norm.pdf(v))


def _product_comonotone(a1, a2):
    """E[(U + a1)^+ (U + a2)^+]: both positive for U > -min(a1, a2)."""
    m = jnp.minimum(a1, a2)
    return (a1 * a2 + 1.0) * ndtr(m) + (a1 + a2 - m) * norm.pdf(m)


def _product_antitone(a1, a2):
    """E[(U + a1)^+ (a2 - U)^+]: both positive for -a1 < U < a2 (empty unless a1 + a2 > 0)."""
    inside = (a1 * a2 - 1.0) * (ndtr(a2) - ndtr(-a1)) + a2 * norm.pdf(a1) + a1 * norm.pdf(a2)
    return jnp.where(a1 + a2 > 0, inside, 0.0)


def relu_product_mean(mu1, mu2, sd1, sd2, cov):
    """E[max(X, 0) max(Y, 0)] for jointly Gaussian X, Y with means mu, standard deviations sd >= 0
    and covariance ``cov``; broadcasts over its arguments."""
    both = (sd1 > 0) & (sd2 > 0)
    s1 = jnp.where(both, sd1, 1.0)
    s2 = jnp.where(both, sd2, 1.0)
    rho = jnp.where(both, cov / (s1 * s2), 0.0)
    a1, a2 = mu1 / s1, mu2 / s2
    interior = jnp.abs(rho) < 1.0
    general = _product_general(a1, a2, jnp.where(interior, rho, 0.0))
    edge = jnp.where(rho > 0, _product_comonotone(a1, a2), _product_antitone(a1, a2))
    gaussian_pair = s1 * s2 * jnp.where(interior, general, edge)
    # At most one is random: E = E[X^+] E[Y^+], with a constant's "mean" its own positive part.
    one_constant = relu_mean(mu1, sd1) * relu_mean(mu2, sd2)
    return jnp.where(both, gaussian_pair, one_constant)
