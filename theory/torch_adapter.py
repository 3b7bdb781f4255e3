"""Bring your own PyTorch network: ``from_torch`` turns a ``torch.nn.Sequential`` into our layout.

PyTorch is an optional extra (``pip install -e '.[torch]'``); this module imports it only when
called. The converter is a thin edge: it reads weights and dropout rates, and refuses with a
ValueError that names the module whatever it cannot represent exactly.
"""

from __future__ import annotations

import numpy as np

_SUPPORTED = "Linear, ReLU, Dropout (and Identity or nested Sequential)"


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


def from_torch(module):
    """``(params, keep_prob)`` of a ``torch.nn.Sequential`` of ``Linear``, ``ReLU`` and ``Dropout``.

    params: one ``(W, b)`` pair of float64 arrays per ``Linear`` (PyTorch's ``weight`` already has
    our (n_out, n_in) layout; a missing bias is 0). keep_prob: one keep probability per dropout
    layer (inputs, hidden 1..d-1) implied by where the ``Dropout`` modules sit: a Dropout before the
    first Linear drops the inputs, one after hidden Linear l (before or after its ReLU: for Bernoulli
    masks the two commute) drops hidden layer l. PyTorch's ``Dropout(p)`` DROPS with probability p,
    so it contributes keep 1 - p; two Dropouts on one layer compose to the product of their keeps.
    Pass both to any function of :mod:`theory`::

        params, keep = theory.from_torch(model)
        theory.dropout_penalty(params, X, Y, keep_prob=keep)

    A head with C >= 2 outputs (a classifier's logits, as ``nn.CrossEntropyLoss`` reads them) is
    converted too; judge it with ``loss="cross_entropy"``.

    Raises ValueError for anything else (another activation, BatchNorm, spatial dropout, a Dropout
    or ReLU after the last Linear, hidden layers without ReLU).
    """
    try:
        import torch.nn as nn
    except ImportError:
        raise ImportError("theory.from_torch needs PyTorch: pip install -e '.[torch]'") from None
    if not isinstance(module, nn.Sequential):
        raise ValueError(f"from_torch takes a torch.nn.Sequential, got {type(module).__name__}")
    params, keep = [], [1.0]
    activated = True            # the inputs need no ReLU; a hidden Linear needs one before the next
    for position, child in enumerate(_flatten(module)):
        name = f"{type(child).__name__} (module {position})"
        if type(child) is nn.Linear:
            if not activated:
                raise ValueError(f"{name} follows a Linear without a ReLU in between: the "
                                 "standard architecture has a ReLU on every hidden layer")
            W = child.weight.detach().cpu().double().numpy()
            b = (np.zeros(W.shape[0]) if child.bias is None
                 else child.bias.detach().cpu().double().numpy())
            params.append((W, b))
            keep.append(1.0)
            activated = False
        elif type(child) is nn.ReLU:
            if not params or activated:
                raise ValueError(f"{name} must follow a hidden Linear: a ReLU on the inputs or a "
                                 "second ReLU cannot be represented")
            activated = True
        elif type(child) is nn.Dropout:
            if child.p >= 1:
                raise ValueError(f"{name} has p = {child.p}: it drops everything")
            keep[-1] *= 1.0 - float(child.p)
        elif type(child) is nn.Identity:
            continue
        else:
            raise ValueError(f"{name} cannot be represented: from_torch supports {_SUPPORTED} "
                             "only (the paper's standard architecture)")
    if not params:
        raise ValueError("the Sequential has no Linear layer")
    if activated or keep[-1] != 1.0:
        raise ValueError("the last module must be the output Linear: a ReLU or Dropout after it "
                         "cannot be represented (the output node is linear and never dropped)")
    return tuple(params), tuple(keep[:-1])
