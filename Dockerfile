# syntax=docker/dockerfile:1
# One image for every reach2revenue service (Airflow components, stand-ins, CLI).
# Build: docker compose build (docs/deployment.md). Runs as the non-root user 50000
# (group 0, as Airflow's official image), behind an entrypoint that refuses default or
# placeholder secrets (reach2revenue.deploy_checks).
FROM python:3.11-slim

ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1

# The user and the folders its volumes mount on: a named volume takes the ownership of
# the folder it first mounts over, so the services can write there without root.
RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --uid 50000 --gid 0 --create-home --home-dir /home/airflow airflow \
    && mkdir -p /opt/airflow /var/lib/reach2revenue/published \
    && chown -R 50000:0 /opt/airflow /var/lib/reach2revenue

WORKDIR /opt/reach2revenue
# Dependencies first, from the lock only: this layer is rebuilt when pyproject.toml or
# uv.lock change, not on every code change.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
# Then the project itself (an editable install: settings find dbt_project/ and
# expectations/ beside src/).
COPY README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations

USER 50000:0
ENTRYPOINT ["python", "-m", "reach2revenue.deploy_checks", "--"]
CMD ["airflow", "version"]
