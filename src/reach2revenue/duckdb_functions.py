"""dbt-duckdb plugin: reach2revenue's SQL functions on every connection dbt opens.

``profiles.yml`` lists this module under ``plugins``; dbt-duckdb imports it, builds
:class:`Plugin` and calls :meth:`Plugin.configure_connection` on each new DuckDB
connection (cursors of that connection share its functions). Registered:

- ``r2r_email_hash(varchar) -> varchar``: the keyed email hash of
  :mod:`reach2revenue.email_hash`, with the key read from ``R2R_EMAIL_HASH_KEY`` in this
  process's environment (``reach2revenue.transform`` sets it while dbt runs). The key
  never appears in SQL, dbt vars or logs. Without a key the function raises when it is
  called, so commands that hash nothing (``dbt compile``, ``dbt ls``) still work.

The macro ``email_hash(column)`` (``dbt_project/macros/email_hash.sql``) calls it.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from reach2revenue.email_hash import (
    KEY_ENVIRONMENT_VARIABLE,
    MINIMUM_KEY_LENGTH,
    SQL_FUNCTION_NAME,
    email_hash,
)


def _key_from_environment() -> bytes:
    secret = os.environ.get(KEY_ENVIRONMENT_VARIABLE, "").strip()
    if len(secret) < MINIMUM_KEY_LENGTH:
        raise RuntimeError(
            f"{SQL_FUNCTION_NAME}: {KEY_ENVIRONMENT_VARIABLE} is not set (or too short); "
            "run dbt through reach2revenue.transform, which resolves the key"
        )
    return secret.encode()


class Plugin(BasePlugin):
    """Registers reach2revenue's Python functions on dbt's DuckDB connections."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Register ``r2r_email_hash`` on a new connection."""
        # The key is read once per connection, when the first value is hashed.
        key: list[bytes] = []

        def hash_email(email: Any) -> str | None:
            if email is None:
                return None
            if not key:
                key.append(_key_from_environment())
            return email_hash(key[0], str(email))

        conn.create_function(
            SQL_FUNCTION_NAME,
            hash_email,
            [VARCHAR],
            VARCHAR,
            null_handling="special",
            side_effects=False,
        )
