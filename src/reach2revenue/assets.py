"""The published marts as an Airflow asset, so downstream DAGs run on fresh data.

``publish`` declares :func:`published_marts_asset` as its outlet: each successful publish
emits an asset event, and a DAG with ``schedule=[published_marts_asset()]`` (a BI
refresh, an export; ``dags/bi_refresh_example.py``) runs after it. The event's ``extra``
(:func:`publication_extra`) says which publication it was, when, and each table's row
count, so a consumer can tell what it got without opening the file.

One asset for the published warehouse, not one per mart: publish swaps the whole file in
at once (``reach2revenue.publish``), so every mart is fresh at the same moment. Its URI is
the published file's, ``file://<R2R_PUBLISHED_PATH>``, resolved from the environment when
the DAG file is parsed (the DAG processor needs the same ``R2R_*`` settings as the
workers, as the deployment's shared environment gives it); the name,
``reach2revenue_published_marts``, is stable across deployments.

Light at import time: ``airflow.sdk`` and the package's settings; DuckDB only inside
:func:`published_row_counts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow.sdk import Asset

from reach2revenue.settings import Settings

PUBLISHED_MARTS_ASSET_NAME = "reach2revenue_published_marts"
ASSET_GROUP = "reach2revenue"


def published_marts_uri(published_path: Path) -> str:
    """``file://`` URI of the published warehouse file."""
    return published_path.expanduser().resolve().as_uri()


def published_marts_asset(settings: Settings | None = None) -> Asset:
    """The asset ``publish`` updates: the published warehouse of ``settings`` (env default)."""
    settings = settings or Settings.from_env()
    return Asset(
        name=PUBLISHED_MARTS_ASSET_NAME,
        uri=published_marts_uri(settings.published_path),
        group=ASSET_GROUP,
        extra={"format": "duckdb", "read_only": True},
    )


def publication_extra(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The asset event's ``extra`` for one publish (its summary, ``PublishSummary.to_dict``).

    JSON only, small: the publication id and time, the file and its size, and each
    table's row count; not the audit (it is in the task log).
    """
    return {
        "publication_id": summary.get("publication_id"),
        "published_at": summary.get("published_at"),
        "published_path": summary.get("published_path"),
        "size_bytes": summary.get("size_bytes"),
        "table_row_counts": dict(summary.get("table_row_counts") or {}),
    }


def published_row_counts(published_path: Path | None = None) -> dict[str, int]:
    """Row count of every table in the published warehouse, read-only (``schema.table``).

    Raises:
        FileNotFoundError: nothing is published at the path yet.
    """
    import duckdb

    path = published_path or Settings.from_env().published_path
    if not path.exists():
        raise FileNotFoundError(f"no published warehouse at {path}: run the nightly first")
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{table}": int(
                con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]  # type: ignore[index]
            )
            for schema, table in tables
        }


def latest_publication(triggering_events: Mapping[Any, Any] | None) -> dict[str, Any]:
    """The newest published-marts event among a run's triggering events: extra and source run.

    ``triggering_events`` is the context's ``triggering_asset_events`` (asset -> events);
    empty when the run was not triggered by a publish (a manual run).
    """
    newest: Any = None
    for asset, events in (triggering_events or {}).items():
        if getattr(asset, "name", None) != PUBLISHED_MARTS_ASSET_NAME:
            continue
        for event in events or []:
            if newest is None or event.timestamp > newest.timestamp:
                newest = event
    if newest is None:
        return {}
    return {
        **dict(newest.extra or {}),
        "source_dag_id": newest.source_dag_id,
        "source_run_id": newest.source_run_id,
    }


def fresh_marts_report(
    triggering_events: Mapping[Any, Any] | None, published_path: Path | None = None
) -> dict[str, Any]:
    """What a downstream refresh sees: the publication that triggered it and the file now.

    ``row_counts`` come from the file itself; ``publication`` from the asset event (empty
    for a manual run). A later publish may have swapped the file in since the event: the
    counts are then the newer ones, which is what a refresh should load anyway.
    """
    return {
        "publication": latest_publication(triggering_events),
        "row_counts": published_row_counts(published_path),
    }
