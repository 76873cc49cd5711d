# Two commands do all set-up: `make demo` and `make test`. Both bootstrap uv and .venv
# from uv.lock idempotently (system Python 3.11, no Python downloads).
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV_STAMP := .venv/.r2r-synced

.PHONY: bootstrap demo test bench lint fmt clean

$(VENV_STAMP): pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python $$($(PYTHON) -c 'import sys; print(sys.executable)')
	@touch $(VENV_STAMP)

bootstrap: $(VENV_STAMP)

demo: bootstrap
	.venv/bin/r2r demo

# Every stage timed at a mid-size advertiser's scale, with lower bounds measured in the
# same run and Airflow's overhead; figures in var/bench/bench.json (README, "Speed").
bench: bootstrap
	.venv/bin/r2r bench --scale 1 --airflow --out var/bench/bench.json

# Two workers for the in-process tests (each dbt build uses one core), one module per
# unit of work, the longest first (tests/conftest.py); then the real scheduler's stack
# (api-server, scheduler, dag-processor, executors) alone, as it needs both cores.
PYTEST_WORKERS ?= 2

test: bootstrap
	.venv/bin/ruff check src dags tests
	.venv/bin/ruff format --check src dags tests
	.venv/bin/pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder \
		--ignore tests/test_scheduler.py
	.venv/bin/pytest tests/test_scheduler.py

lint: bootstrap
	.venv/bin/ruff check src dags tests
	.venv/bin/ruff format --check src dags tests

fmt: bootstrap
	.venv/bin/ruff check --fix src dags tests
	.venv/bin/ruff format src dags tests

clean:
	rm -rf var dbt_project/target dbt_project/logs
