"""Random draws and sizing rules every part of the simulated world shares (one
implementation, so that the same seed draws the same numbers in every part)."""

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


def flighted_campaigns(
    per_unit_scale: int, scale: float, density: float, always_on: int
) -> tuple[int, float]:
    """An ad account's flighted campaigns and the divisor of every campaign's budget.

    ``density`` (`World.campaign_density`) multiplies the flighted campaigns; dividing each
    budget by (campaigns now / campaigns at density 1) keeps the account's spend, and so
    its leads and the CRM, what ``scale`` makes. At density 1 the divisor is exactly 1.
    """
    at_density_one = round(per_unit_scale * scale)
    flighted = round(per_unit_scale * scale * density)
    return flighted, (always_on + flighted) / (always_on + at_density_one)
