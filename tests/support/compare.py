"""Comparisons with stated tolerances."""

import numpy as np


def rel_diff(a, b):
    """max |a − b| / (1 + |b|) over the entries finite in both; the non-finite pattern must match."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = np.isfinite(a) & np.isfinite(b)
    assert (np.isfinite(a) == np.isfinite(b)).all()
    return float(np.max(np.abs(a[both] - b[both]) / (1 + np.abs(b[both])), initial=0.0))
