"""Random draws every part of the simulated world shares (one implementation, so that
the same seed draws the same numbers in every part)."""

from __future__ import annotations

import math
import random


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw with mean ``lam``: Knuth's exact method for the small daily means,
    a rounded normal approximation above 30."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, count, product = math.exp(-lam), 0, 1.0
    while True:
        product *= rng.random()
        if product <= limit:
            return count
        count += 1
