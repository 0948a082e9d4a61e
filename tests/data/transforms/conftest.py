"""Images for the transforms to work on."""

import numpy as np
import pytest


@pytest.fixture
def images():
    """``images(n=8, c=1, h=8, w=8, seed=0)``: float32 values in [0, 1), shape (n, c, h, w)."""

    def make(n=8, c=1, h=8, w=8, seed=0):
        return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)

    return make


@pytest.fixture
def bounding_box():
    """``bounding_box(mask) -> (top, bottom, left, right)`` of the True entries of a 2-D mask."""

    def box(mask):
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1

    return box
