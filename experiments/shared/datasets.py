"""Small real data sets, as scikit-learn ships them inside its package (no download at run time).

===================  ===================================  ======================================
name                 scikit-learn loader                  task
===================  ===================================  ======================================
``diabetes``         ``sklearn.datasets.load_diabetes``   regression, 442 x 10 (Efron, Hastie,
                                                          Johnstone and Tibshirani, Ann. Stat. 2004)
``breast_cancer``    ``load_breast_cancer``               binary, 569 x 30 (Wisconsin diagnostic)
``wine``             ``load_wine``                        3 classes, 178 x 13
``digits``           ``load_digits``                      10 classes, 1,797 images of 8 x 8 pixels
                                                          (UCI optical digits), flattened row by row
===================  ===================================  ======================================

scikit-learn provides the data and the train/test split only. Every split is fixed by its seed
(``train_test_split`` with ``random_state=seed``, stratified by class for classification). Features
are standardised with the training set's mean and standard deviation, per feature, except the
digits' pixels: one mean and one standard deviation over every training pixel, so that an image
stays an image (a convolution shares its weights across positions, and some border pixels are blank
in every training image, with standard deviation 0). The diabetes target is
standardised the same way, so a constant predictor has training loss 1. Classification labels are
0..C-1, stored as float64 like every label array of the engine.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DATASETS = ("diabetes", "breast_cancer", "wine", "digits")
TEST_FRACTION = 0.3


class Split(NamedTuple):
    """A standardised train/test split and a one-line description for figures."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    num_classes: int              # 0 for regression
    description: str


def load_split(name: str, *, seed: int = 0) -> Split:
    """The data set ``name`` split 70/30 by ``seed``, standardised on the training part."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loaders = {"diabetes": datasets.load_diabetes, "breast_cancer": datasets.load_breast_cancer,
               "wine": datasets.load_wine, "digits": datasets.load_digits}
    if name not in loaders:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    X, y = loaders[name](return_X_y=True)
    classes = 0 if name == "diabetes" else int(y.max()) + 1
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float64), y.astype(np.float64), test_size=TEST_FRACTION, random_state=seed,
        stratify=y if classes else None)
    pooled = name == "digits"              # images: one mean and sd over every pixel (module doc)
    mean, sd = X_train.mean(axis=None if pooled else 0), X_train.std(axis=None if pooled else 0)
    X_train, X_test = (X_train - mean) / sd, (X_test - mean) / sd
    if not classes:
        y_mean, y_sd = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - y_mean) / y_sd, (y_test - y_mean) / y_sd
    return Split(X_train, y_train, X_test, y_test, classes,
                 _describe(name, X.shape, classes, len(y_train), len(y_test), f"seed {seed}"))


def load_runs(name: str, runs: int) -> tuple[list[Split], str]:
    """The splits of runs 0..runs-1 (run r uses split seed r) and one description naming them."""
    splits = [load_split(name, seed=r) for r in range(runs)]
    first = splits[0]
    shape = (len(first.Y_train) + len(first.Y_test), first.X_train.shape[1])
    return splits, _describe(name, shape, first.num_classes, len(first.Y_train),
                             len(first.Y_test), f"seeds 0-{runs - 1}")


def _describe(name, shape, classes, num_train, num_test, seeds: str) -> str:
    task = "regression, target standardised" if not classes else f"{classes} classes"
    scaled = ("pixels standardised by one mean and standard deviation of the training set"
              if name == "digits" else "features standardised on the training set")
    return (f"{name} (scikit-learn, {shape[0]} x {shape[1]}, {task}); {num_train}/{num_test} "
            f"train/test split, {seeds}; {scaled}")
