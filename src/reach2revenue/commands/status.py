"""`r2r status`: what was last published, by which run, through which day, and its quality."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from reach2revenue.airflow_local import AirflowApiError, AirflowClient, AirflowUnreachable
from reach2revenue.commands import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from reach2revenue.commands._airflow import UsageError, add_connection_options, client_from
from reach2revenue.settings import Settings

EXAMPLES = f"""examples:
  r2r status
  r2r status --published /srv/bi/reach2revenue.duckdb --api-url https://airflow.example.org

Reads the published file (its publication stamp and last day) and, through the REST API,
the run that published it (the publish task's result) with its audit and load checks.
Exit 1 when the newest finished run failed (the published file is then older).
{EXIT_CODES_HELP}"""

_STAMP = re.compile(r"Published (?P<at>\S+) \(publication (?P<id>[0-9a-f]+)\)")


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "status",
        help="what was last published, from which run, through which day, its quality",
        description="Report the published warehouse and the Airflow runs behind it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--published",
        type=Path,
        default=None,
        help="the published DuckDB file (default: $R2R_PUBLISHED_PATH, else "
        "$R2R_HOME/published/reach2revenue.duckdb)",
    )
    add_connection_options(parser)
    return parser


def published_facts(path: Path) -> dict[str, Any] | None:
    """Publication id and time (the tables' stamp), tables and last day of the mart."""
    import duckdb

    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        comments = con.execute("select table_name, comment from duckdb_tables()").fetchall()
        facts: dict[str, Any] = {"path": str(path), "tables": sorted(t for t, _ in comments)}
        for _, comment in comments:
            match = _STAMP.search(comment or "")
            if match:
                facts["published_at"] = match.group("at").rstrip(".")
                facts["publication_id"] = match.group("id")
                break
        if "region_daily_performance" in facts["tables"]:
            first, last = con.execute(
                "select min(report_date), max(report_date) from region_daily_performance"
            ).fetchall()[0]
            facts["first_day"], facts["last_day"] = str(first), str(last)
    return facts


def publishing_run(client: AirflowClient, publication_id: str | None) -> dict[str, Any]:
    """The newest finished runs, and the one whose publish task made ``publication_id``."""
    runs = [r for r in client.dag_runs(limit=25) if r["state"] in ("success", "failed")]
    found: dict[str, Any] = {"newest": runs[0] if runs else None, "run": None}
    for dag_run in runs:
        if dag_run["state"] != "success":
            continue
        try:
            summary = client.xcom(dag_run["dag_run_id"], "publish")
        except AirflowApiError:
            continue
        if isinstance(summary, dict) and summary.get("publication_id") == publication_id:
            found["run"] = dag_run
            found["publish"] = summary
            try:
                found["load"] = client.xcom(dag_run["dag_run_id"], "load_and_validate")
            except AirflowApiError:
                found["load"] = None
            break
    return found


def _audit_line(audit: dict[str, Any] | None) -> str:
    if not audit:
        return "audit: not recorded"
    checks = audit.get("checks") or []
    failed = [c.get("name") for c in checks if c.get("findings")]
    if failed:
        return f"audit: FAILED {', '.join(map(str, failed))}"
    return f"audit: passed ({len(checks)} checks)"


def _load_line(load: Any) -> str:
    if not isinstance(load, dict):
        return "load checks: not recorded"
    batches = load.get("batches") or []
    expectations = sum(int(b.get("expectations") or 0) for b in batches)
    rows = sum(int(b.get("rows") or 0) for b in batches)
    line = (
        f"load checks (Great Expectations): passed, {len(batches)} batch(es), "
        f"{rows} row(s), {expectations} expectation(s)"
    )
    if load.get("schema_warnings"):
        line += f"; {len(load['schema_warnings'])} schema warning(s)"
    if load.get("data_docs"):
        line += f"; Data Docs {load['data_docs']}"
    return line


def run(args: argparse.Namespace, *, out: Any = print) -> int:
    path = args.published or Settings.from_env().published_path
    facts = published_facts(path)
    if facts is None:
        out(f"published: nothing yet at {path}")
    else:
        out(f"published: {facts['path']}")
        out(
            f"  publication {facts.get('publication_id', '?')} at "
            f"{facts.get('published_at', '?')}; tables: {', '.join(facts['tables'])}"
        )
        if "last_day" in facts:
            out(f"  data through {facts['last_day']} (from {facts['first_day']})")
    try:
        client = client_from(args)
        found = publishing_run(client, facts.get("publication_id") if facts else None)
    except UsageError as error:
        out(f"error: {error}")
        return EXIT_USAGE
    except AirflowUnreachable as error:
        out(f"Airflow: unreachable ({error})")
        return EXIT_UNREACHABLE
    except AirflowApiError as error:
        out(f"Airflow: {error}")
        return EXIT_UNREACHABLE if error.status in (401, 403) else EXIT_RUN_FAILED
    publisher = found["run"]
    if publisher is not None:
        out(
            f"  published by run {publisher['dag_run_id']} ({publisher['run_type']}, data "
            f"interval {str(publisher['data_interval_start'])[:10]} .. "
            f"{str(publisher['data_interval_end'])[:10]}, ended {publisher['end_date']})"
        )
        out(f"  {_audit_line(found['publish'].get('audit'))}")
        out(f"  {_load_line(found.get('load'))}")
    elif facts is not None:
        out("  published by: no recent Airflow run made this publication")
    newest = found["newest"]
    if newest is None:
        out("last run: none finished yet")
        return EXIT_OK
    out(
        f"last run: {newest['dag_run_id']} {newest['state']} "
        f"(data interval {str(newest['data_interval_start'])[:10]} .. "
        f"{str(newest['data_interval_end'])[:10]})"
    )
    return EXIT_OK if newest["state"] == "success" else EXIT_RUN_FAILED
