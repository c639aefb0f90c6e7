# The peacewatch image: the package, its pinned dependencies and the project's DAGs and config.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1 AIRFLOW_HOME=/opt/airflow
WORKDIR /opt/peacewatch
COPY pyproject.toml requirements.lock README.md ./
COPY peacewatch ./peacewatch
COPY crawlers ./crawlers
COPY nlp ./nlp
COPY warehouse ./warehouse
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install -c requirements.lock .
COPY config ./config
COPY dags /opt/airflow/dags
ENV PEACEWATCH_CONFIG_DIR=/opt/peacewatch/config PEACEWATCH_DATA_DIR=/data
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow airflow && mkdir -p /data && chown -R 50000:0 /data /opt/airflow
USER 50000
