"""Helpers that judge computed curves, shared by the studies."""

from __future__ import annotations

import numpy as np


def interior_extrema(values):
    """Indices i with values[i] strictly above (max) or below (min) both neighbours."""
    v = np.asarray(values)
    inner = np.arange(1, len(v) - 1)
    maxima = inner[(v[inner] > v[inner - 1]) & (v[inner] > v[inner + 1])]
    minima = inner[(v[inner] < v[inner - 1]) & (v[inner] < v[inner + 1])]
    return maxima.tolist(), minima.tolist()
