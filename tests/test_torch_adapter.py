"""theory.from_torch: PyTorch's Sequential models in our layout, judged against PyTorch itself."""

import numpy as np
import pytest

import theory

Z = 5.0


def _model(torch, seed=0):
    nn = torch.nn
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(6, 3), nn.Dropout(0.2), nn.ReLU(),   # Dropout before its ReLU
                         nn.Linear(3, 1)).double()


def test_weights_and_keep_probabilities_from_pytorch_placement(torch):
    model = _model(torch)
    params, keep = theory.from_torch(model)
    assert keep == pytest.approx((1.0, 0.7, 0.8))   # PyTorch's p is the DROP probability
    X = np.random.default_rng(0).normal(size=(5, 4))
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()[:, 0]
    np.testing.assert_allclose(theory.network_output(params, X), expected, rtol=1e-12)


def test_dropout_on_the_inputs_and_composed_dropouts(torch):
    nn = torch.nn
    model = nn.Sequential(nn.Dropout(0.1), nn.Sequential(nn.Linear(3, 2), nn.ReLU()),
                          nn.Dropout(0.5), nn.Dropout(0.5), nn.Linear(2, 1, bias=False))
    params, keep = theory.from_torch(model)
    assert keep == pytest.approx((0.9, 0.25)) and np.all(params[1][1] == 0)


def test_exact_criterion_matches_the_pytorch_model_in_train_mode(torch):
    """Our exact J_D against PyTorch's own dropout, sampled: every row of a repeated batch gets
    independent masks in train mode, so each repetition is one sample of sum_x P(x)(D - y)^2."""
    model = _model(torch, 1)
    params, keep = theory.from_torch(model)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 4)), rng.normal(size=6)
    exact = theory.dropout_criterion(params, X, Y, keep_prob=keep)
    repeats = 20_000
    model.train()
    torch.manual_seed(2)
    with torch.no_grad():
        out = model(torch.from_numpy(np.tile(X, (repeats, 1)))).numpy()[:, 0].reshape(repeats, 6)
    samples = np.mean(np.square(out - Y), axis=1)
    se = samples.std(ddof=1) / np.sqrt(repeats)
    assert abs(samples.mean() - exact) <= Z * se


@pytest.mark.parametrize("build,message", [       # built from torch.nn when the test runs
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)),
     r"Tanh \(module 1\) cannot"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.ReLU(), nn.Linear(2, 1)),
     r"BatchNorm1d \(module 1\) cannot"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Dropout1d(0.5), nn.Linear(2, 1)),
     r"Dropout1d \(module 2\) cannot"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1), nn.Dropout(0.5)),
     "ReLU or Dropout after it"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)), "without a ReLU"),
    (lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 1)), "must follow a hidden Linear"),
])
def test_what_cannot_be_represented_is_refused_by_name(torch, build, message):
    model = build(torch.nn)
    with pytest.raises(ValueError, match=message):
        theory.from_torch(model)


def test_cross_entropy_of_a_pytorch_classifier_matches_its_own_loss_in_train_mode(torch):
    """A three-class head: our exact cross-entropy J_D against nn.CrossEntropyLoss of the model in
    train mode, sampled as above; the square loss refuses the three outputs by name."""
    nn = torch.nn
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Dropout(0.4),
                          nn.Linear(5, 4), nn.ReLU(), nn.Dropout(0.3), nn.Linear(4, 3)).double()
    params, keep = theory.from_torch(model)
    rng = np.random.default_rng(3)
    X, labels = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    exact = theory.dropout_criterion(params, X, labels, keep_prob=keep, loss="cross_entropy")
    repeats = 20_000
    model.train()
    torch.manual_seed(4)
    with torch.no_grad():
        logits = model(torch.from_numpy(np.tile(X, (repeats, 1))))
        losses = nn.functional.cross_entropy(logits, torch.from_numpy(np.tile(labels, repeats)),
                                             reduction="none").numpy().reshape(repeats, 6)
    samples = losses.mean(axis=1)
    se = samples.std(ddof=1) / np.sqrt(repeats)
    assert abs(samples.mean() - exact) <= Z * se
    with pytest.raises(ValueError, match="exactly one output.*loss='cross_entropy'"):
        theory.dropout_criterion(params, X, labels, keep_prob=keep)


def test_only_a_sequential_is_accepted(torch):
    with pytest.raises(ValueError, match="torch.nn.Sequential"):
        theory.from_torch(torch.nn.Linear(3, 1))
