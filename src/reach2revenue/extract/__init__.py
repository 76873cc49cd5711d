"""Extractors: platform APIs (or their stand-ins) to files in the landing zone.

Each source module exposes one entry point that lands every response page as received
(secrets redacted) plus a manifest per extraction, and returns the manifest paths.
Extractors never open the warehouse; ``reach2revenue.raw`` loads what they land.

- ``meta_ads.extract_meta_ads``: Meta Marketing API insights per ad account and day.
- ``hubspot.extract_hubspot``: HubSpot contacts, deals and deal-contact associations.
- ``credentials.get_credentials``: base URL and token from Airflow or the environment.
- ``state``: per source/entity cursors ("loaded through").
"""

from __future__ import annotations
