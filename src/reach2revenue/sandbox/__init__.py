"""The sandbox: a simulated world and stand-in servers that speak each platform's real API.

Not part of the pipeline: the demo and the tests use it to run the real extractors over
real HTTP against data whose ground truth is known. One stand-in module per source in
``standins/``; the world in ``world/``.
"""

from __future__ import annotations
