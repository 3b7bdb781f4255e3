"""theory.dropout_report against brute force over every pattern (theory/enumeration.py), its
MC-sample count against simulated MC dropout, its variance shift against a closed form computed with
PyTorch's own convolution, and its refusals."""

import numpy as np
import pytest

import theory
from theory.enumeration import pattern_outputs
from theory.network import random_network

KEEP = (1.0, 0.6, 0.5)


def _plain(params, x):
    """W(x): every node kept (the one pattern of probability 1 at keep 1)."""
    D, P, _ = pattern_outputs(params, x, 1.0)
    return D[np.argmax(P)]


def _brute(params, X, Y, keep):
    """Per example: E_R D, Var_R D and the penalty E_R (D - y)^2 - (W(x) - y)^2, by every pattern."""
    rows = []
    for x, y in zip(X, Y):
        D, P, _ = pattern_outputs(params, x, keep)
        mean = P @ D
        rows.append((mean, P @ (D - mean) ** 2, P @ (D - y) ** 2 - (_plain(params, x) - y) ** 2))
    return np.asarray(rows).T


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(4)                       # a draw with a negative penalty
    params = random_network(rng, [3, 4, 3, 1])
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=30)
    return params, X, Y, theory.dropout_report(params, X, Y, keep_prob=KEEP, mc_tolerance=0.05)


def test_every_number_is_brute_forces(case):
    params, X, Y, report = case
    mean, var, penalty = _brute(params, X, Y, KEEP)
    assert report.route.startswith("exact")
    np.testing.assert_allclose(report.penalty, penalty.mean(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(report.criterion - report.risk, report.penalty, rtol=1e-12)
    assert report.negative_examples == int(np.sum(penalty < -1e-12)) > 0
    np.testing.assert_allclose(report.most_negative, penalty.min(), rtol=1e-10)
    plain = np.array([_plain(params, x) for x in X])
    np.testing.assert_allclose(report.gap_mean_abs, np.mean(np.abs(mean - plain)), rtol=1e-10)
    gap_term = (mean - plain) * (mean + plain - 2 * Y)
    np.testing.assert_allclose(report.gap_share, gap_term.mean() / penalty.mean(), rtol=1e-9)
    k = np.maximum(np.ceil(1.959963984540054 ** 2 * var / 0.05 ** 2), 1)
    assert (report.mc_samples_median, report.mc_samples_max) == (int(np.median(k)), int(k.max()))
    text = str(report)
    assert "penalty J_D - R" in text and "negative penalty" in text and "best keep" in text


def test_best_keep_beats_a_fine_scan(case):
    params, X, Y, report = case
    fine = np.linspace(0.1, 1.0, 181)
    scan = [theory.dropout_criterion(params, X, Y, keep_prob=(1.0, k, k)) for k in fine]
    assert report.best_criterion <= min(scan) + 1e-9
    np.testing.assert_allclose(report.criterion_on_grid[4], theory.dropout_criterion(
        params, X, Y, keep_prob=(1.0, 0.5, 0.5)), rtol=1e-12)


def test_the_sample_count_delivers_its_coverage():
    """Simulated MC dropout on the example that needs the most passes: the average of K passes is
    within the tolerance in about 95% of 2,000 repetitions (binomial SE 0.5%)."""
    rng = np.random.default_rng(5)
    params = random_network(rng, [2, 3, 1])
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=5)
    tol = 0.05
    report = theory.dropout_report(params, X, Y, keep_prob=(1.0, 0.5), mc_tolerance=tol)
    mean, var, _ = _brute(params, X, Y, (1.0, 0.5))
    worst = int(np.argmax(var))
    K = report.mc_samples_max
    D, P, _ = pattern_outputs(params, X[worst], (1.0, 0.5))
    draws = rng.choice(D, p=P, size=(2000, K))
    coverage = np.mean(np.abs(draws.mean(axis=1) - mean[worst]) <= tol)
    assert K >= 10 and abs(coverage - 0.95) < 0.03


def test_a_classifier_s_sample_count_reads_the_predicted_class_probability():
    """Cross-entropy: K = ceil((1.96 sd / 0.01)^2) with sd the spread of the softmax probability
    of the class the exact ensemble predicts, every pattern listed in NumPy."""
    rng = np.random.default_rng(8)
    params = random_network(rng, [3, 4, 3])
    X, Y = rng.normal(size=(6, 3)), np.array([0, 1, 2, 0, 1, 2.0])
    report = theory.dropout_report(params, X, Y, keep_prob=(0.8, 0.5), loss="cross_entropy",
                                   keep_grid=())
    counts = []
    for x in X:
        D, P, _ = pattern_outputs(params, x, (0.8, 0.5), every_output=True)
        s = np.exp(D - D.max(axis=1, keepdims=True))
        s /= s.sum(axis=1, keepdims=True)
        mean = P @ s
        c = int(np.argmax(mean))
        counts.append(np.ceil(1.959963984540054 ** 2 * (P @ (s[:, c] - mean[c]) ** 2) / 1e-4))
    assert report.mc_tolerance == 0.01
    assert (report.mc_samples_median, report.mc_samples_max) == (int(np.median(counts)),
                                                                 int(max(counts)))
    assert "MC-dropout samples" in str(report)


def test_variance_shift_at_a_batchnorm_that_reads_a_dropout_layer(torch):
    """Conv -> ReLU -> Dropout -> Conv -> BatchNorm: the dropped values are not noisy themselves, so
    the training variance per channel is the test variance plus the mean over the channel's units
    of (q/p) sum_i W_i^2 a_i^2, a convolution of a^2 with the squared kernel."""
    nn = torch.nn
    torch.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Dropout(0.4), nn.Conv2d(2, 2, 2),
                          nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)).double()
    X = np.random.default_rng(6).normal(size=(25, 1, 5, 5))
    with torch.no_grad():
        model.train()
        model(torch.from_numpy(X))                      # running statistics away from (0, 1)
        model.eval()
        a = model[1](model[0](torch.from_numpy(X)))
        z = model[3](a)
        extra = torch.nn.functional.conv2d(a ** 2, model[3].weight ** 2) * (0.4 / 0.6)
    z, extra = z.numpy(), extra.numpy()
    train = z.var(axis=(0, 2, 3)) + extra.mean(axis=(0, 2, 3))
    report = theory.dropout_report(model, X, np.zeros(25), input_shape=(1, 5, 5), keep_grid=())
    (shift,) = report.batchnorm_shift
    np.testing.assert_allclose(shift["train_over_test"], np.median(train / z.var(axis=(0, 2, 3))),
                               rtol=1e-10)
    np.testing.assert_allclose(shift["running_over_train"],
                               np.median(model[4].running_var.numpy() / train), rtol=1e-10)


def test_what_the_report_cannot_do_it_says():
    rng = np.random.default_rng(7)
    params = random_network(rng, [3, 4, 1])
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=4)
    with pytest.raises(ValueError, match="keep_prob is required"):
        theory.dropout_report(params, X, Y)
    with pytest.raises(ValueError, match="mc_tolerance must be a number > 0"):
        theory.dropout_report(params, X, Y, keep_prob=0.5, mc_tolerance=0.0)
    wide = random_network(rng, [30, 40, 3])                         # 2^70 patterns under CE
    report = theory.dropout_report(wide, rng.normal(size=(4, 30)), np.array([0, 1, 2, 1.0]),
                                   keep_prob=0.5, loss="cross_entropy", num_samples=64)
    assert report.route.startswith("Monte Carlo (64 samples)") and report.penalty_se > 0
    assert "need the exact route: not computed" in report.notes[0]
    assert report.negative_examples is None and "MC-dropout" not in str(report)
