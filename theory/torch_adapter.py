"""Bring your own PyTorch network: ``from_torch`` turns a ``torch.nn.Sequential`` into our layout.

PyTorch is an optional extra (``pip install -e '.[torch]'``); this module imports it only when
called. The converter is a thin edge: it reads weights, running statistics and dropout rates, and
refuses with a ValueError that names the module whatever it cannot represent exactly.

A convolutional network is a ReLU network with structure: a convolution, an average pooling and a
BatchNorm in evaluation mode are affine maps of their input, and a flattening changes nothing but
the shape. So between two ReLUs everything composes into one dense affine map (W, b), read off
PyTorch's own modules by applying them to the unit vectors (in float64), and a feature map's units
that PyTorch drops together (a channel under ``Dropout2d``) are a group of the dropout layer
(:mod:`theory.noise`). Inputs and hidden layers are flattened in PyTorch's (C, H, W) or (C, L)
order, so ``X.reshape(N, -1)`` is what the converted network reads.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np

_SUPPORTED = ("Linear, Conv1d, Conv2d, AvgPool1d, AvgPool2d, Flatten, BatchNorm1d, BatchNorm2d "
              "(evaluation mode: running statistics), ReLU, Dropout, Dropout1d, Dropout2d, "
              "Identity and nested Sequential")


class BatchNormRecord(NamedTuple):
    """Where a BatchNorm sat and what it holds (evaluation mode: its running statistics).

    Its input is ``input_map[0] @ v + input_map[1]``, v the values of dropout layer ``layer`` (0:
    the inputs, l: hidden layer l) after that layer's dropout; ``after_affine``: that map is a
    Linear, convolution or pooling (Conv -> BatchNorm -> ReLU), not the identity (ReLU ->
    BatchNorm, or Dropout -> BatchNorm on a layer). ``channel`` gives each input unit's channel, the
    index into the per-channel statistics."""
    module: str
    layer: int
    after_affine: bool
    input_map: tuple
    channel: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray
    eps: float
    weight: np.ndarray
    bias: np.ndarray


class TorchNetwork(NamedTuple):
    """A converted model: pass its fields to any function of :mod:`theory`.

    params: one (W, b) pair per affine stage between ReLUs. keep_prob: one keep probability per
    dropout layer (inputs, hidden 1..d-1). groups: None when every dropout drops single units, else
    one entry per dropout layer, None or each unit's group (its channel under ``Dropout2d``).
    batchnorms: a :class:`BatchNormRecord` per BatchNorm, in order."""
    params: tuple
    keep_prob: tuple
    groups: tuple | None
    batchnorms: tuple


def _flatten(module):
    import torch.nn as nn

    _check_forward(module)
    for child in module:
        if isinstance(child, nn.Sequential):
            yield from _flatten(child)
        else:
            yield child


def _check_forward(sequential):
    """Refuse a Sequential whose class defines its own forward(): what it computes is not the
    chain of its modules that we read."""
    import torch.nn as nn

    if type(sequential).forward is not nn.Sequential.forward:
        raise ValueError(f"{type(sequential).__name__} overrides forward(): from_torch reads the "
                         "chain of modules of a Sequential and cannot know what a custom forward() "
                         "computes; pass a plain torch.nn.Sequential of the same modules")


def _affine_of(module, shape: tuple, name: str):
    """(M, c, output shape) with module(v) = M v + c for one example v of ``shape``, flattened:
    the module applied in float64 to zero and to every unit vector."""
    import torch

    n = int(np.prod(shape))
    double = copy.deepcopy(module).double().eval()
    with torch.no_grad():
        try:
            basis = double(torch.eye(n, dtype=torch.float64).reshape((n,) + shape))
            zero = double(torch.zeros((1,) + shape, dtype=torch.float64))
        except RuntimeError as err:
            raise ValueError(f"{name} does not take the per-example shape {shape} that reaches "
                             f"it: {err}") from None
    c = zero.numpy().reshape(-1)
    return (basis.numpy().reshape(n, -1) - c).T, c, tuple(zero.shape[1:])


def _mask_groups(kind: str, shape: tuple, name: str):
    """Each unit's group (flattened) of one example of ``shape`` under PyTorch's rule for the rank
    of the batched input (one more than ``shape``'s), or None for single units.

    ``Dropout`` drops units. ``Dropout2d`` draws one mask per (dim 0, dim 1) entry of the batched
    input whatever its rank (4-D or 3-D: channels; 2-D: units, with a deprecation warning).
    ``Dropout1d`` takes 3-D inputs (channels) or 2-D ones, which it reads as one unbatched example
    of channels = the batch rows: every unit of an example is then dropped together."""
    if kind == "Dropout":
        return None
    rank = len(shape) + 1
    if kind == "Dropout1d" and rank not in (2, 3):
        raise ValueError(f"{name} receives a {rank}-D batch (per-example shape {shape}); "
                         "PyTorch's dropout1d takes 2-D or 3-D inputs only")
    if kind == "Dropout1d" and rank == 2:
        return np.zeros(shape[0], int)                   # the whole example, one group
    if rank == 2:
        return None                                      # Dropout2d on (N, F): single units
    return np.repeat(np.arange(shape[0]), int(np.prod(shape[1:])))


def _combine(first, second, name: str):
    """The grouping of two independent masks on one layer, when one grouping describes both."""
    if first is None and second is None:
        return None
    if first is not None and second is not None:
        if np.array_equal(first, second):
            return first
    raise ValueError(f"{name} drops this layer's units in other groups than an earlier dropout "
                     "on the same layer: two independent masks of different groupings are not one "
                     "dropout layer of our family")


def from_torch(module, input_shape=None) -> TorchNetwork:
    """A :class:`TorchNetwork` (params, keep_prob, groups, batchnorms) of a ``torch.nn.Sequential``.

    Reads ``Linear``, ``Conv1d`` and ``Conv2d`` (any stride, padding, padding mode, dilation and
    groups), ``AvgPool1d/2d``, ``Flatten``, ``BatchNorm1d/2d`` (evaluation mode: the running
    statistics, whatever mode the model is in), ``ReLU``, ``Dropout``, ``Dropout1d``, ``Dropout2d``
    (with PyTorch's rule for the rank of its input), ``Identity`` and nested ``Sequential``.
    ``input_shape`` is the shape of one example, (C, H, W) or (C, L); it is required when the model
    has convolutions, pooling or spatial dropout. Every stretch between two ReLUs becomes one
    affine layer (W, b); each dropout acts on a dropout layer (the inputs or a hidden layer after
    its ReLU): one directly before a ReLU commutes with it (a Bernoulli mask is >= 0), and one after
    an average pooling of ReLU values makes the pooled values a layer of their own (they are >= 0,
    so a ReLU there changes nothing). PyTorch's ``Dropout(p)`` DROPS with probability p, so it
    contributes keep 1 - p; two dropouts on one layer compose to the product of their keeps::

        net = theory.from_torch(model, input_shape=(1, 8, 8))
        theory.dropout_penalty(net.params, X.reshape(len(X), -1), Y, keep_prob=net.keep_prob,
                               groups=net.groups, loss="cross_entropy")

    A head with C >= 2 outputs (a classifier's logits) is converted too; judge it with
    ``loss="cross_entropy"``. Raises ValueError, naming the module, for anything else: another
    activation or pooling (``MaxPool2d``), ``Dropout3d`` or ``AlphaDropout``, a BatchNorm without
    running statistics, a dropout before a BatchNorm and its ReLU (BatchNorm's shift keeps the mask
    from commuting with the ReLU), a dropout on values a BatchNorm shifted after a ReLU, a ReLU or
    dropout after the output. The two BatchNorm orders have an exact form that this converter does
    not build yet: masked values y = ReLU(y) - ReLU(-y), a layer of twice the width whose two halves
    are dropped together.
    """
    try:
        import torch.nn as nn
    except ImportError:
        raise ImportError("theory.from_torch needs PyTorch: pip install -e '.[torch]'") from None
    if not isinstance(module, nn.Sequential):
        raise ValueError(f"from_torch takes a torch.nn.Sequential, got {type(module).__name__}")
    return _Converter(input_shape).run(list(_flatten(module)))


class _Converter:
    """The walk over a Sequential's modules (see :func:`from_torch`).

    State: the finished layers; per dropout layer its keep probability and grouping; the shape of
    the current dropout layer's values; ``pending``, the affine map (M, c, shape) from those values
    to the current tensor (None: the current tensor is the layer itself); ``before_relu``, the
    dropouts met on a pre-activation, waiting for its ReLU."""

    def __init__(self, input_shape):
        if input_shape is not None:
            shape = tuple(int(s) for s in np.atleast_1d(input_shape))
            if not shape or min(shape) < 1:
                raise ValueError(f"input_shape must be the shape of one example, (C, H, W), "
                                 f"(C, L) or (features,), got {input_shape!r}")
        self.shape = None if input_shape is None else shape
        self.params, self.keep, self.groups, self.batchnorms = [], [1.0], [None], []
        self.pending, self.before_relu = None, []

    def run(self, children) -> TorchNetwork:
        import torch.nn as nn

        handlers = {nn.Linear: self.affine, nn.Conv1d: self.affine, nn.Conv2d: self.affine,
                    nn.AvgPool1d: self.affine, nn.AvgPool2d: self.affine,
                    nn.Flatten: self.flatten, nn.BatchNorm1d: self.batchnorm,
                    nn.BatchNorm2d: self.batchnorm, nn.ReLU: self.relu, nn.Dropout: self.dropout,
                    nn.Dropout1d: self.dropout, nn.Dropout2d: self.dropout,
                    nn.Identity: self.identity}
        for position, child in enumerate(children):
            name = f"{type(child).__name__} (module {position})"
            handler = handlers.get(type(child))
            if handler is None:
                raise ValueError(f"{name} cannot be represented: from_torch supports {_SUPPORTED} "
                                 "only")
            if self.before_relu and handler not in (self.relu, self.dropout, self.flatten,
                                                    self.identity):
                raise ValueError(self._not_multiplicative(name))
            handler(child, name)
        if not self.params and self.pending is None:
            raise ValueError("the Sequential has no Linear or convolution layer")
        if self.pending is None or self.before_relu:
            raise ValueError("the last module must be the output's affine map (Linear, or a "
                             "convolution, pooling or BatchNorm after one): a ReLU or dropout after "
                             "it cannot be represented (the outputs are linear and never dropped)")
        M, c, shape = self.pending
        if len(shape) != 1:
            raise ValueError(f"the output has per-example shape {shape}: end with a Flatten or a "
                             "Linear, so that every example gives a vector of outputs")
        self.params.append((M, c))
        groups = None if all(g is None for g in self.groups) else tuple(
            None if g is None else tuple(int(i) for i in g) for g in self.groups)
        return TorchNetwork(tuple(self.params), tuple(self.keep), groups, tuple(self.batchnorms))

    def _current_shape(self, name: str):
        if self.pending is not None:
            return self.pending[2]
        if self.shape is None:
            raise ValueError(f"{name} needs the shape of one example: pass input_shape, "
                             "(C, H, W) or (C, L), to from_torch")
        return self.shape

    def identity(self, child, name):
        pass

    def _compose(self, M, c, shape):
        """Append the affine map v -> M v + c to the pending map."""
        if self.pending is None:
            self.pending = (M, c, shape)
        else:
            M0, c0, _ = self.pending
            self.pending = (M @ M0, M @ c0 + c, shape)

    def affine(self, child, name):
        import torch.nn as nn

        if type(child) is nn.Linear and self.pending is None and self.shape is None:
            self.shape = (child.in_features,)            # no input_shape: the first Linear's
        shape = self._current_shape(name)
        if type(child) is nn.Linear:
            if len(shape) != 1 or shape[0] != child.in_features:
                raise ValueError(f"{name} takes {child.in_features} features but receives "
                                 f"per-example shape {shape}" + (
                                     " (add a Flatten before it)" if len(shape) > 1 else ""))
            M = child.weight.detach().cpu().double().numpy()
            c = (np.zeros(M.shape[0]) if child.bias is None
                 else child.bias.detach().cpu().double().numpy())
            self._compose(M, c, (M.shape[0],))
        else:
            self._compose(*_affine_of(child, shape, name))

    def flatten(self, child, name):
        if (child.start_dim, child.end_dim) != (1, -1):
            raise ValueError(f"{name} flattens dims {child.start_dim}..{child.end_dim}; from_torch "
                             "takes Flatten() with its defaults (every dim but the batch)")
        if self.pending is None and self.shape is None:
            return                                       # the next Linear gives the size
        size = (int(np.prod(self._current_shape(name))),)
        if self.pending is None:
            self.shape = size
        else:
            self.pending = (self.pending[0], self.pending[1], size)

    def batchnorm(self, child, name):
        if child.running_mean is None or child.running_var is None:
            raise ValueError(f"{name} keeps no running statistics (track_running_stats=False): "
                             "in evaluation mode it normalises with each batch's statistics, "
                             "which is not a fixed map of one example")
        shape = self._current_shape(name)
        ranks = (3,) if type(child).__name__ == "BatchNorm2d" else (1, 2)
        if len(shape) not in ranks or shape[0] != child.num_features:
            raise ValueError(f"{name} normalises {child.num_features} channels of a "
                             f"{' or '.join(f'{r + 1}-D' for r in ranks)} batch but receives "
                             f"per-example shape {shape}")
        channel = np.repeat(np.arange(shape[0]), int(np.prod(shape[1:])))
        n = channel.size
        input_map = self.pending[:2] if self.pending is not None else (np.eye(n), np.zeros(n))
        record = BatchNormRecord(
            module=name, layer=len(self.params), after_affine=self.pending is not None,
            input_map=input_map, channel=channel,
            running_mean=child.running_mean.detach().cpu().double().numpy(),
            running_var=child.running_var.detach().cpu().double().numpy(), eps=float(child.eps),
            weight=(np.ones(shape[0]) if child.weight is None
                    else child.weight.detach().cpu().double().numpy()),
            bias=(np.zeros(shape[0]) if child.bias is None
                  else child.bias.detach().cpu().double().numpy()))
        self.batchnorms.append(record)
        scale = record.weight / np.sqrt(record.running_var + record.eps)
        shift = record.bias - scale * record.running_mean
        self._compose(np.diag(scale[channel]), shift[channel], shape)

    def relu(self, child, name):
        if self.pending is None:
            if not self.params:
                raise ValueError(f"{name} must follow a hidden Linear or convolution: a ReLU on "
                                 "the inputs cannot be represented")
            return                                       # values after a ReLU: it changes nothing
        self._new_layer()
        for keep, groups, dropout_name in self.before_relu:
            self._drop(keep, groups, dropout_name)
        self.before_relu = []

    def _new_layer(self):
        """The pending map becomes a layer; its values (after the ReLU) the next dropout layer."""
        M, c, shape = self.pending
        self.params.append((M, c))
        self.keep.append(1.0)
        self.groups.append(None)
        self.shape, self.pending = shape, None

    def _drop(self, keep, groups, name):
        """A dropout on the current dropout layer, composed with any earlier one there."""
        if keep == 1.0:
            return                                       # p = 0: drops nothing
        self.groups[-1] = groups if self.keep[-1] == 1.0 else _combine(self.groups[-1], groups,
                                                                       name)
        self.keep[-1] *= keep

    def dropout(self, child, name):
        if child.p >= 1:
            raise ValueError(f"{name} has p = {child.p}: it drops everything")
        kind = type(child).__name__
        groups = None if kind == "Dropout" else _mask_groups(kind, self._current_shape(name), name)
        keep = 1.0 - float(child.p)
        if self.pending is None:
            self._drop(keep, groups, name)
        elif self.params and np.all(self.pending[0] >= 0) and not np.any(self.pending[1]):
            self._new_layer()       # a pooling of ReLU values: >= 0, a layer of its own
            self._drop(keep, groups, name)
        else:
            self.before_relu.append((keep, groups, name))

    def _not_multiplicative(self, name):
        dropouts = ", ".join(dropout for _, _, dropout in self.before_relu)
        return (f"{dropouts} drops values that {name} transforms before a ReLU: a dropout is exact "
                "on the inputs, on values after a ReLU (or an average pooling of them) and directly "
                "before a ReLU (a mask >= 0 commutes with it), not on values that another map (a "
                "BatchNorm's shift, a convolution) carries into the ReLU, where the mask does not "
                "commute with it. from_torch does not convert this order (an exact form exists: the "
                "masked values as ReLU(y) - ReLU(-y), a layer of twice the width whose halves are "
                "dropped together; not built yet): estimate the model's criterion by sampling it "
                "in train mode")
