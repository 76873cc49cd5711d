"""The parts of the world beyond the core (Meta ads, HubSpot CRM), found by convention.

A registered source with a module ``sandbox/world/<source>.py`` holding a `parts.WorldPart`
class whose ``source`` is its name has a part: `World.generate` builds every part,
`World.save`/`load` keep them under ``parts/<source>/``, and `World.ground_truth` adds
their facts. The core world's own sources (and reference data) have no module.
"""

from __future__ import annotations

import importlib
import importlib.util

from reach2revenue.sandbox.world.parts import WorldPart
from reach2revenue.sources import SOURCE_NAMES


def _part_type(source: str) -> type[WorldPart] | None:
    name = f"reach2revenue.sandbox.world.{source}"
    if importlib.util.find_spec(name) is None:
        return None
    module = importlib.import_module(name)
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and getattr(value, "source", None) == source
            and hasattr(value, "generate")
            and hasattr(value, "ad_facts")
        ):
            return value
    raise LookupError(f"{name} has no WorldPart class with source = {source!r}")


PART_TYPES: tuple[type[WorldPart], ...] = tuple(
    part for part in (_part_type(name) for name in SOURCE_NAMES) if part is not None
)
