"""The parts of the world beyond the core (Meta ads, HubSpot CRM): one line per source.

Each entry is a `parts.WorldPart` class with a ``source`` name; `World.generate` builds
every part, `World.save`/`load` keep them under ``parts/<source>/``, and
`World.ground_truth` adds their facts.
"""

from __future__ import annotations

from reach2revenue.sandbox.world.google_ads import GoogleAdsPart
from reach2revenue.sandbox.world.linkedin_ads import LinkedInAdsPart
from reach2revenue.sandbox.world.parts import WorldPart

PART_TYPES: tuple[type[WorldPart], ...] = (GoogleAdsPart, LinkedInAdsPart)
