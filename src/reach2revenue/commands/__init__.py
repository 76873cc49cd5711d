"""The operator's commands of `r2r`, one module each, talking to Airflow's REST API.

Each module has ``add_parser(subcommands)`` and ``run(args) -> int``; `reach2revenue.cli`
wires them. Exit codes, the same for every command (a script can rely on them):

    0  done (the run, backfill or command succeeded)
    1  a run failed (or a backfill had a failed run)
    2  usage error (bad arguments, missing settings)
    3  Airflow unreachable (not started, wrong URL, or it refused the login)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

EXIT_CODES_HELP = (
    "exit codes: 0 ok, 1 run failed, 2 usage error, 3 Airflow unreachable (docs/operations.md)"
)
