"""Seeding of the random state ART uses: NumPy's global RNG, seeded for a block and restored after it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np

__all__ = ["numpy_seed"]


@contextmanager
def numpy_seed(seed: int | None) -> Iterator[None]:
    """Seed NumPy's global RNG (ART's random-search attacks and randomized smoothing draw from it) for the block,
    then restore the caller's state; ``None`` leaves it alone.

    Examples
    --------
    >>> with numpy_seed(0):
    ...     a = np.random.rand()
    >>> with numpy_seed(0):
    ...     b = np.random.rand()
    >>> a == b
    True
    """
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)
