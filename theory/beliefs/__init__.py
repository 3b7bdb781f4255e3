"""What other people believe or prove about dropout, restated as exact computations the studies judge.

The practitioner's rules (the inference gap, noise before the ReLU, the variance shift) and the
explicit-regulariser theories (Wager et al. 2013, Arora et al. 2021, Wei et al. 2020), each built on
the exact engine of :mod:`theory`; the engine imports nothing from here. Finding IDs (B33-B49) refer
to CLAIMS.md.
"""
