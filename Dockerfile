# The peacewatch image: Airflow 3.3.2 with the Celery and PostgreSQL providers, the peacewatch package with its
# pinned dependencies (requirements.lock), the DAGs and the config. Every service of docker-compose.yml that
# runs Airflow runs from it; the demo newsroom runs inside the workers.
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AIRFLOW_HOME=/opt/airflow \
    HOME=/opt/airflow \
    PEACEWATCH_CONFIG_DIR=/opt/peacewatch/config \
    PEACEWATCH_DATA_DIR=/data

# curl: the api-server and scheduler healthchecks
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/peacewatch
COPY pyproject.toml requirements.lock README.md ./
COPY peacewatch ./peacewatch
COPY crawlers ./crawlers
COPY nlp ./nlp
COPY warehouse ./warehouse
# torch from its CPU index first, so nothing pulls a CUDA build; then the package within the lock, and what
# the CeleryExecutor stack needs on top (resolved against requirements.lock with pip 25).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install -c requirements.lock . \
      apache-airflow-providers-celery==3.26.0 apache-airflow-providers-postgres==7.1.1 \
      celery==5.6.3 kombu==5.6.2 redis==6.4.0 flower==2.2.0 psycopg2-binary==2.9.13 \
 && python -c "import peacewatch.orchestration, airflow.providers.celery, airflow.providers.postgres"

COPY config ./config
COPY dags /opt/airflow/dags

# The official Airflow image's user: uid 50000, group 0 (AIRFLOW_UID in .env).
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --no-create-home airflow \
 && mkdir -p /data /opt/airflow/logs /opt/airflow/auth \
 && chown -R 50000:0 /data /opt/airflow \
 && chmod -R g+rwX /data /opt/airflow
USER 50000
WORKDIR /opt/airflow
EXPOSE 8080 8793
CMD ["airflow", "version"]
