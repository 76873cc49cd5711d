"""Where a source's API is, its token and its typed options: never in code, never logged.

Order of resolution for a source ``<name>``:

1. The Airflow connection ``<name>_default`` (host = base URL, password = token, extra JSON
   = options such as ``{"account_ids": ["1001", "1002"]}``), from the metadata DB, a
   secrets backend or an ``AIRFLOW_CONN_<ID>`` environment variable.
2. Environment variables ``R2R_<NAME>_BASE_URL``, ``R2R_<NAME>_TOKEN`` and one
   ``R2R_<NAME>_<OPTION>`` per option (lists as comma-separated text).

The base URL defaults to the real service, so pointing the pipeline at the real platforms
instead of the stand-ins is a change of token (and options) only. Options are parsed into
the source's own frozen dataclass (``Source.options_type``): a tuple field takes a JSON
list or a comma string, an int field an integer, a str field text.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import typing
from collections.abc import Mapping
from typing import Any

from reach2revenue.contracts import Credentials, Source
from reach2revenue.failures import NonRetryableError


class CredentialsError(NonRetryableError, RuntimeError):
    """No usable credentials or options for a source (names where they were looked for)."""


def _airflow_wanted(conn_id: str, environ: Mapping[str, str]) -> bool:
    """Whether to ask Airflow for the connection.

    Importing ``airflow.sdk`` costs seconds, so it is consulted only inside an Airflow
    process (already imported) or when the connection is given as ``AIRFLOW_CONN_<ID>``.
    """
    if f"AIRFLOW_CONN_{conn_id.upper()}" in environ:
        return True
    return "airflow.sdk" in sys.modules or environ.get("R2R_USE_AIRFLOW_CONNECTIONS") == "1"


def _airflow_connection(conn_id: str, environ: Mapping[str, str]) -> Any | None:
    if not _airflow_wanted(conn_id, environ):
        return None
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except Exception:
        # Not installed, not defined (AirflowNotFoundException) or no Airflow context:
        # fall back to the environment.
        return None


def _base_url(conn: Any) -> str:
    host = (conn.host or "").strip()
    if host and not host.startswith(("http://", "https://")):
        scheme = conn.schema or "https"
        host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    return host


def _extra(conn: Any) -> dict[str, Any]:
    raw = conn.extra
    if isinstance(raw, str):
        return json.loads(raw) if raw.strip() else {}
    return dict(raw or {})


def parse_options(source: Source, values: Mapping[str, Any]) -> Any:
    """The source's options dataclass from ``values`` (connection extra or environment).

    Raises:
        CredentialsError: a required option is missing or does not parse.
    """
    if source.options_type is None:
        return None
    hints = typing.get_type_hints(source.options_type)
    kwargs: dict[str, Any] = {}
    for option in dataclasses.fields(source.options_type):
        if option.name not in values or values[option.name] in (None, ""):
            continue
        value = values[option.name]
        wanted = hints[option.name]
        try:
            if typing.get_origin(wanted) is tuple:
                items = value.split(",") if isinstance(value, str) else list(value)
                kwargs[option.name] = tuple(str(i).strip() for i in items if str(i).strip())
            elif wanted is int:
                kwargs[option.name] = int(value)
            else:
                kwargs[option.name] = str(value).strip()
        except (TypeError, ValueError) as exc:
            raise CredentialsError(
                f"{source.name}: option {option.name}={value!r} is not a {wanted}: {exc}"
            ) from None
    try:
        return source.options_type(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CredentialsError(
            f"{source.name}: options incomplete or invalid ({exc}); set them in the extra "
            f"of connection {source.conn_id!r} or as R2R_{source.name.upper()}_<OPTION>"
        ) from None


def _env_options(source: Source, environ: Mapping[str, str]) -> dict[str, str]:
    if source.options_type is None:
        return {}
    prefix = f"R2R_{source.name.upper()}_"
    return {
        f.name: environ[prefix + f.name.upper()]
        for f in dataclasses.fields(source.options_type)
        if prefix + f.name.upper() in environ
    }


def get_credentials(source: Source, environ: Mapping[str, str] | None = None) -> Credentials:
    """Resolve base URL, token and options for ``source`` (Airflow first, then env).

    Raises:
        CredentialsError: no token for a source that needs one, or bad options.
    """
    env = os.environ if environ is None else environ
    conn = _airflow_connection(source.conn_id, env)
    if conn is not None and (conn.password or not source.needs_token):
        base_url = _base_url(conn) or source.default_base_url
        return Credentials(
            base_url=base_url.rstrip("/"),
            token=conn.password or "",
            options=parse_options(source, _extra(conn)),
            origin=f"airflow:{source.conn_id}",
        )
    prefix = f"R2R_{source.name.upper()}"
    token = env.get(f"{prefix}_TOKEN", "").strip()
    if source.needs_token and not token:
        raise CredentialsError(
            f"no token for {source.name}: define the Airflow connection "
            f"{source.conn_id!r} or set {prefix}_TOKEN"
        )
    base_url = env.get(f"{prefix}_BASE_URL", "").strip() or source.default_base_url
    return Credentials(
        base_url=base_url.rstrip("/"),
        token=token,
        options=parse_options(source, _env_options(source, env)),
        origin="env",
    )


def environment_from_connection(source_name: str, connection: Mapping[str, Any]) -> dict[str, str]:
    """An Airflow connection definition (host, password, extra) as the equivalent
    ``R2R_<SOURCE>_*`` environment variables that `get_credentials` reads."""
    prefix = f"R2R_{source_name.upper()}"
    env = {f"{prefix}_BASE_URL": str(connection["host"])}
    if connection.get("password"):
        env[f"{prefix}_TOKEN"] = str(connection["password"])
    for option, value in (connection.get("extra") or {}).items():
        text = ",".join(value) if isinstance(value, list | tuple) else str(value)
        env[f"{prefix}_{option.upper()}"] = text
    return env
