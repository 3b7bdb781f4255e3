"""What the studies share, and the only code a study imports from outside its own module besides
:mod:`theory`, :mod:`sgd` and the runner's :mod:`experiments.common`: the tasks and their training
protocols, the real data sets, the dropout variants, and analysis helpers."""
