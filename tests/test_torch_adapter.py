"""theory.from_torch: PyTorch's Sequential models, fully connected and convolutional, in our layout,
judged against PyTorch itself."""

import numpy as np
import pytest

import theory
from theory.network import network_outputs

Z = 5.0


def _model(torch, seed=0):
    nn = torch.nn
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(6, 3), nn.Dropout(0.2), nn.ReLU(),   # Dropout before its ReLU
                         nn.Linear(3, 1)).double()


def test_weights_and_keep_probabilities_from_pytorch_placement(torch):
    model = _model(torch)
    params, keep, groups, batchnorms = theory.from_torch(model)
    assert keep == pytest.approx((1.0, 0.7, 0.8))   # PyTorch's p is the DROP probability
    assert groups is None and batchnorms == ()
    X = np.random.default_rng(0).normal(size=(5, 4))
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()[:, 0]
    np.testing.assert_allclose(theory.network_output(params, X), expected, rtol=1e-12)


def test_dropout_on_the_inputs_and_composed_dropouts(torch):
    nn = torch.nn
    model = nn.Sequential(nn.Dropout(0.1), nn.Sequential(nn.Linear(3, 2), nn.ReLU()),
                          nn.Dropout(0.5), nn.Dropout(0.5), nn.Linear(2, 1, bias=False))
    net = theory.from_torch(model)
    assert net.keep_prob == pytest.approx((0.9, 0.25)) and np.all(net.params[1][1] == 0)


def test_exact_criterion_matches_the_pytorch_model_in_train_mode(torch):
    """Our exact J_D against PyTorch's own dropout, sampled: every row of a repeated batch gets
    independent masks in train mode, so each repetition is one sample of sum_x P(x)(D - y)^2."""
    model = _model(torch, 1)
    params, keep = theory.from_torch(model)[:2]
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
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Hardtanh(0, 1), nn.Linear(2, 1)),
     r"Hardtanh \(module 2\) cannot"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1), nn.Dropout(0.5)),
     "a ReLU or dropout after it"),
    (lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 1)), "must follow a hidden Linear"),
    (lambda nn: nn.Sequential(nn.Dropout(0.5)), "no Linear or convolution"),
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
    params, keep = theory.from_torch(model)[:2]
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


def test_a_sequential_with_its_own_forward_is_refused(torch):
    nn = torch.nn

    class Shifted(nn.Sequential):
        def forward(self, x):
            return super().forward(x) + 100.0

    model = Shifted(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    with pytest.raises(ValueError, match="Shifted overrides forward()"):
        theory.from_torch(model)
    inner = nn.Sequential(nn.Linear(3, 2), Shifted(nn.ReLU()), nn.Linear(2, 1))
    with pytest.raises(ValueError, match="Shifted overrides forward()"):
        theory.from_torch(inner)

    class Named(nn.Sequential):            # a subclass that keeps Sequential's forward is fine
        pass

    net = theory.from_torch(Named(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)))
    assert net.keep_prob == (1.0, 1.0) and net.params[0][0].shape == (2, 3)


# Convolutional networks: the converted network against PyTorch's own modules.

def _randomise_batchnorms(torch, model, seed):
    """Running statistics and affine parameters away from the identity (a fresh BatchNorm is one)."""
    generator = torch.Generator().manual_seed(seed)
    for child in model.modules():
        if isinstance(child, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = child.num_features
            with torch.no_grad():
                child.running_mean.copy_(torch.randn(n, generator=generator) * 0.3)
                child.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                child.weight.copy_(torch.randn(n, generator=generator))
                child.bias.copy_(torch.randn(n, generator=generator) * 0.3)
    return model


def _conv2d_model(torch):
    """Channel dropout on the inputs and after the first ReLU, BatchNorm before a ReLU (folded into
    its convolution) and after one (folded into the Linear), average pooling, element dropout."""
    nn = torch.nn
    torch.manual_seed(10)
    model = nn.Sequential(nn.Dropout2d(0.25), nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3),
                          nn.ReLU(), nn.Dropout2d(0.3), nn.AvgPool2d(2), nn.Conv2d(3, 4, 2),
                          nn.ReLU(), nn.Dropout(0.4), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(4, 1))
    return _randomise_batchnorms(torch, model.double(), 11), (2, 4, 4)


def _conv1d_model(torch):
    """Strided reflect-padded and dilated grouped convolutions, channel dropout (Dropout1d) after a
    ReLU, BatchNorm1d before a ReLU, element dropout after an average pooling of ReLU values (which
    makes the pooled values a layer of their own)."""
    nn = torch.nn
    torch.manual_seed(12)
    model = nn.Sequential(nn.Conv1d(2, 4, 3, stride=2, padding=1, padding_mode="reflect"),
                          nn.ReLU(), nn.Dropout1d(0.3),
                          nn.Conv1d(4, 4, 2, dilation=2, groups=2, padding=1),
                          nn.BatchNorm1d(4), nn.ReLU(), nn.AvgPool1d(2), nn.Dropout(0.5),
                          nn.Flatten(), nn.Linear(8, 1))
    return _randomise_batchnorms(torch, model.double(), 13), (2, 7)


def _dropout_units(torch, kind, shape):
    """The shape of one mask of a dropout module for one example of ``shape`` (PyTorch's rule for
    the rank of the batched input, spelled out independently of the converter)."""
    if kind is torch.nn.Dropout or (kind is torch.nn.Dropout2d and len(shape) == 1):
        return shape
    if kind is torch.nn.Dropout1d and len(shape) == 1:
        return (1,)                                       # the whole example at once
    return (shape[0],) + (1,) * (len(shape) - 1)           # channels


def _brute_force_through_torch(torch, model, X, Y, loss):
    """J_D by every mask of every dropout module, applied by hand between PyTorch's own modules
    (BatchNorm in evaluation mode), weighted by its probability: all patterns in one batch."""
    modules = list(model.eval())
    dropouts = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d)
    units, x = {}, torch.from_numpy(X)                  # per dropout module: (mask shape, keep)
    with torch.no_grad():
        for index, module in enumerate(modules):
            if isinstance(module, dropouts):
                units[index] = (_dropout_units(torch, type(module), tuple(x.shape[1:])),
                                1.0 - module.p)
            x = module(x)
        bits = sum(int(np.prod(shape)) for shape, _ in units.values())
        kept = (np.arange(2 ** bits)[:, None] >> np.arange(bits)) & 1       # (patterns, bits)
        probability, offset, masks = np.ones(2 ** bits), 0, {}
        for index, (shape, keep) in units.items():
            size = int(np.prod(shape))
            mask = kept[:, offset:offset + size].astype(float)
            offset += size
            probability *= np.prod(np.where(mask == 1, keep, 1 - keep), axis=1)
            masks[index] = torch.from_numpy(np.repeat(mask / keep, len(X), axis=0).reshape(
                (-1,) + shape))                         # one row per (pattern, example)
        x = torch.from_numpy(np.tile(X, (2 ** bits,) + (1,) * (X.ndim - 1)))
        for index, module in enumerate(modules):
            x = x * masks[index] if index in masks else module(x)
        if loss == "square":
            losses = (x.numpy()[:, 0] - np.tile(Y, 2 ** bits)) ** 2
        else:
            losses = torch.nn.functional.cross_entropy(
                x, torch.from_numpy(np.tile(Y, 2 ** bits).astype(np.int64)),
                reduction="none").numpy()
    return float(probability @ losses.reshape(2 ** bits, len(X)).mean(axis=1)), bits


@pytest.mark.parametrize("build", [_conv2d_model, _conv1d_model])
def test_a_converted_cnn_computes_what_pytorch_does_in_evaluation_mode(torch, build):
    model, shape = build(torch)
    net = theory.from_torch(model, input_shape=shape)
    X = np.random.default_rng(14).normal(size=(5,) + shape)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(network_outputs(net.params, X.reshape(5, -1)), expected, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("build", [_conv2d_model, _conv1d_model])
def test_exact_criterion_of_a_cnn_is_every_mask_through_pytorchs_modules(torch, build):
    model, shape = build(torch)
    net = theory.from_torch(model, input_shape=shape)
    rng = np.random.default_rng(15)
    X, Y = rng.normal(size=(4,) + shape), rng.normal(size=4)
    exact = theory.dropout_criterion(net.params, X.reshape(4, -1), Y, keep_prob=net.keep_prob,
                                     groups=net.groups)
    brute, bits = _brute_force_through_torch(torch, model, X, Y, "square")
    assert bits >= 9                                   # 512 patterns or more
    np.testing.assert_allclose(exact, brute, rtol=1e-11)


def test_channel_groups_and_batchnorm_records_of_a_cnn(torch):
    model, shape = _conv2d_model(torch)
    net = theory.from_torch(model, input_shape=shape)
    assert net.keep_prob == pytest.approx((0.75, 0.7, 0.6))
    assert net.groups[0] == (0,) * 16 + (1,) * 16                    # the inputs' two channels
    assert net.groups[1] == tuple(np.repeat(np.arange(3), 16))      # 3 channels x 4 x 4
    assert net.groups[2] is None                                    # element dropout
    first, second = net.batchnorms
    assert (first.layer, first.after_affine, second.layer, second.after_affine) == (0, True, 2, False)
    X = np.random.default_rng(16).normal(size=(3,) + shape)
    with torch.no_grad():                                           # BatchNorm's input, recorded
        expected = model[1](torch.from_numpy(X)).numpy().reshape(3, -1)
    M, c = first.input_map
    np.testing.assert_allclose(X.reshape(3, -1) @ M.T + c, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind,shape", [
    ("Dropout1d", None),        # a 2-D batch: Dropout1d drops whole examples
    ("Dropout2d", (2, 6)),      # a 3-D batch: Dropout2d drops channels, as Dropout1d does
    ("Dropout2d", None),        # a 2-D batch: Dropout2d drops single units
])
def test_spatial_dropout_follows_pytorchs_rule_for_the_inputs_rank(torch, kind, shape):
    """Our exact J_D against the model sampled in train mode (PyTorch's own masks), so the rule for
    each rank is PyTorch's, not our reading of it."""
    import warnings

    nn = torch.nn
    torch.manual_seed(17)
    if shape is None:
        model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), getattr(nn, kind)(0.4), nn.Linear(5, 1))
        X = np.random.default_rng(18).normal(size=(6, 3))
    else:
        model = nn.Sequential(nn.Conv1d(2, 2, 3, padding=1), nn.ReLU(), getattr(nn, kind)(0.4),
                              nn.Flatten(), nn.Linear(12, 1))
        X = np.random.default_rng(18).normal(size=(6,) + shape)
    model = model.double()
    net = theory.from_torch(model, input_shape=shape)
    Y = np.random.default_rng(19).normal(size=6)
    exact = theory.dropout_criterion(net.params, X.reshape(6, -1), Y, keep_prob=net.keep_prob,
                                     groups=net.groups)
    repeats = 20_000
    model.train()
    torch.manual_seed(20)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # Dropout2d on a 2-D or 3-D batch warns
        out = model(torch.from_numpy(np.tile(X, (repeats,) + (1,) * (X.ndim - 1))))
    samples = np.mean(np.square(out.numpy()[:, 0].reshape(repeats, 6) - Y), axis=1)
    se = samples.std(ddof=1) / np.sqrt(repeats)
    assert abs(samples.mean() - exact) <= Z * se


def test_a_cnn_classifier_under_cross_entropy_against_every_mask(torch):
    nn = torch.nn
    torch.manual_seed(21)
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Dropout2d(0.5), nn.Flatten(),
                          nn.Linear(8, 3), nn.ReLU(), nn.Linear(3, 3)).double()
    net = theory.from_torch(model, input_shape=(1, 3, 3))
    rng = np.random.default_rng(22)
    X, labels = rng.normal(size=(5, 1, 3, 3)), rng.integers(0, 3, size=5).astype(float)
    exact = theory.dropout_criterion(net.params, X.reshape(5, -1), labels, keep_prob=net.keep_prob,
                                     groups=net.groups, loss="cross_entropy")
    brute, _ = _brute_force_through_torch(torch, model, X, labels, "cross_entropy")
    np.testing.assert_allclose(exact, brute, rtol=1e-11)


def _shifted(batchnorm):
    """A BatchNorm whose running mean shifts its input (a fresh one only rescales it by ~1)."""
    batchnorm.running_mean.fill_(1.0)
    return batchnorm


@pytest.mark.parametrize("build,shape,message", [
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(2, 1)), (1, 5, 5), r"MaxPool2d \(module 2\) cannot"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Dropout3d(0.5), nn.Flatten(),
                              nn.Linear(8, 1)), (1, 3, 3), r"Dropout3d \(module 2\) cannot"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.AlphaDropout(0.5), nn.Linear(2, 1)),
     None, r"AlphaDropout \(module 2\) cannot"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.Dropout(0.5), nn.BatchNorm2d(2), nn.ReLU(),
                              nn.Flatten(), nn.Linear(8, 1)), (1, 3, 3),
     r"Dropout \(module 1\) drops values that BatchNorm2d \(module 2\) transforms before a ReLU"),
    (lambda nn: nn.Sequential(nn.Linear(3, 2), nn.ReLU(), _shifted(nn.BatchNorm1d(2)),
                              nn.Dropout(0.5), nn.Linear(2, 1)), None,
     r"Dropout \(module 3\) drops values that Linear \(module 4\) transforms"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.BatchNorm2d(2, track_running_stats=False),
                              nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)), (1, 3, 3),
     "keeps no running statistics"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)), None,
     r"Conv2d \(module 0\) needs the shape of one example: pass input_shape"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Linear(8, 1)), (1, 3, 3),
     "add a Flatten"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Conv2d(2, 1, 1)), (1, 3, 3),
     "end with a Flatten or a Linear"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Dropout1d(0.5), nn.Flatten(),
                              nn.Linear(8, 1)), (1, 3, 3), r"Dropout1d \(module 2\) receives a 4-D"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Dropout1d(0.5),
                              nn.Linear(4, 1)), None, r"Dropout1d \(module 3\) drops this layer"),
])
def test_what_a_cnn_cannot_be_is_refused_by_name(torch, build, shape, message):
    with pytest.raises(ValueError, match=message):
        theory.from_torch(build(torch.nn), input_shape=shape)
