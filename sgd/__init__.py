"""The SGD engine: many small networks trained at once, one per vector lane, scanned in ``jit``.

:mod:`sgd.training` (the public ``train`` and its per-run :class:`~sgd.training.Regime`),
:mod:`sgd.kernel` (the inner loop: hand-written gradient, each run's own random stream) and
:mod:`sgd.initialisation` (Torch's default initialisation). The noise is the one definition of
:mod:`theory.noise`; the studies, the tests and the benchmarks train through this package.
"""
