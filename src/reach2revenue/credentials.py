"""Where an extractor gets its base URL, token and options.

Order of resolution for a source (``meta_ads`` or ``hubspot``):

1. The Airflow connection ``<source>_default`` (host = base URL, password = token, extra
   JSON = options such as ``{"account_ids": ["1001", "1002"]}``), from the metadata DB,
   a secrets backend or an ``AIRFLOW_CONN_<ID>`` environment variable.
2. Environment variables ``R2R_<SOURCE>_BASE_URL`` / ``R2R_<SOURCE>_TOKEN`` (and
   ``R2R_META_ADS_ACCOUNT_IDS``, a comma list).

Pointing the pipeline at the real platforms instead of the stand-ins is a change of base
URL and token only.

Public sources without a token (the ECB's reference rates) need only a base URL:
:func:`get_base_url` reads the connection's host or ``R2R_<SOURCE>_BASE_URL``, and
defaults to the real service.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SOURCES = ("meta_ads", "hubspot")

DEFAULT_BASE_URLS = {
    "meta_ads": "https://graph.facebook.com",
    "hubspot": "https://api.hubapi.com",
}

AIRFLOW_CONN_IDS = {"meta_ads": "meta_ads_default", "hubspot": "hubspot_default"}

#: Sources that need no credentials, with the real service's base URL.
PUBLIC_BASE_URLS = {"ecb_fx": "https://data-api.ecb.europa.eu"}


class CredentialsError(RuntimeError):
    """No usable credentials for a source (names where they were looked for)."""


@dataclass(frozen=True)
class ApiCredentials:
    """Base URL, token and options of one platform account.

    ``token`` is excluded from ``repr`` so that logging the object cannot leak it.
    """

    base_url: str
    token: str = field(repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    origin: str = "env"

    def __post_init__(self) -> None:
        if not self.token:
            raise CredentialsError(f"empty token for {self.base_url}")

    @property
    def account_ids(self) -> list[str]:
        """Meta ad account ids from ``extra["account_ids"]`` (list or comma string)."""
        return parse_account_ids(self.extra.get("account_ids"))


def parse_account_ids(value: Any) -> list[str]:
    """Normalise account ids: list or comma string, ``act_`` prefixes dropped."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    ids = []
    for item in items:
        text = str(item).strip()
        if text.startswith("act_"):
            text = text[4:]
        if text:
            ids.append(text)
    return ids


def _airflow_wanted(conn_id: str, environ: Mapping[str, str]) -> bool:
    """Whether to ask Airflow for the connection.

    Importing ``airflow.sdk`` costs seconds, so it is consulted only inside an Airflow
    process (already imported) or when the connection is given as ``AIRFLOW_CONN_<ID>``.
    """
    if f"AIRFLOW_CONN_{conn_id.upper()}" in environ:
        return True
    return "airflow.sdk" in sys.modules or environ.get("R2R_USE_AIRFLOW_CONNECTIONS") == "1"


def _from_airflow(source: str, environ: Mapping[str, str]) -> ApiCredentials | None:
    conn_id = AIRFLOW_CONN_IDS[source]
    if not _airflow_wanted(conn_id, environ):
        return None
    try:
        from airflow.sdk import Connection
    except ImportError:
        return None
    try:
        conn = Connection.get(conn_id)
    except Exception:
        # Not defined (AirflowNotFoundException) or no Airflow context: fall back to env.
        return None
    if conn is None or not conn.password:
        return None
    extra_raw = conn.extra
    if isinstance(extra_raw, str):
        extra = json.loads(extra_raw) if extra_raw.strip() else {}
    else:
        extra = dict(extra_raw or {})
    host = (conn.host or "").strip()
    if host and not host.startswith(("http://", "https://")):
        scheme = conn.schema or "https"
        host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    base_url = host or DEFAULT_BASE_URLS[source]
    return ApiCredentials(
        base_url=base_url.rstrip("/"),
        token=conn.password,
        extra=extra,
        origin=f"airflow:{conn_id}",
    )


def _from_env(source: str, environ: Mapping[str, str]) -> ApiCredentials:
    prefix = f"R2R_{source.upper()}"
    token = environ.get(f"{prefix}_TOKEN", "").strip()
    if not token:
        raise CredentialsError(
            f"no token for {source}: define the Airflow connection "
            f"{AIRFLOW_CONN_IDS[source]!r} or set {prefix}_TOKEN"
        )
    base_url = environ.get(f"{prefix}_BASE_URL", "").strip() or DEFAULT_BASE_URLS[source]
    extra: dict[str, Any] = {}
    if source == "meta_ads":
        extra["account_ids"] = parse_account_ids(environ.get(f"{prefix}_ACCOUNT_IDS", ""))
    return ApiCredentials(base_url=base_url.rstrip("/"), token=token, extra=extra, origin="env")


def get_credentials(source: str, environ: Mapping[str, str] | None = None) -> ApiCredentials:
    """Resolve credentials for ``source`` (Airflow connection first, then environment).

    Raises:
        CredentialsError: unknown source, or no token anywhere.
    """
    if source not in SOURCES:
        raise CredentialsError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    env = os.environ if environ is None else environ
    return _from_airflow(source, env) or _from_env(source, env)


def get_base_url(source: str, environ: Mapping[str, str] | None = None) -> str:
    """Base URL of a public source: connection ``<source>_default`` host, env, or default.

    Raises:
        CredentialsError: ``source`` is not a public source.
    """
    if source not in PUBLIC_BASE_URLS:
        known = ", ".join(PUBLIC_BASE_URLS)
        raise CredentialsError(f"{source!r} is not a public source; known: {known}")
    env = os.environ if environ is None else environ
    conn_id = f"{source}_default"
    if _airflow_wanted(conn_id, env):
        try:
            from airflow.sdk import Connection

            conn = Connection.get(conn_id)
        except Exception:
            # Not defined or no Airflow context: fall back to the environment.
            conn = None
        if conn is not None and (conn.host or "").strip():
            return str(conn.host).strip().rstrip("/")
    value = env.get(f"R2R_{source.upper()}_BASE_URL", "").strip()
    return (value or PUBLIC_BASE_URLS[source]).rstrip("/")
