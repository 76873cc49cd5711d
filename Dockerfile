# One image for every reach2revenue service (Airflow components, stand-ins, CLI).
FROM python:3.11-slim

ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1

RUN pip install --no-cache-dir uv
WORKDIR /opt/reach2revenue
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations
