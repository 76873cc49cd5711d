"""Reference data: currencies, FX, countries and regions, from maintained packages."""

from __future__ import annotations
