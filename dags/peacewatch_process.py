"""Load new landing runs into DuckDB, then classify the new articles: whenever a crawl lands data.

Both writers run in the pool `peacewatch_duckdb` of one slot (DuckDB has one writer per file); the digest
takes a turn in it too. airflow-init (docker-compose.yml) and scripts/airflow-standalone.sh create the pool.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, task

from peacewatch.orchestration import LANDING_ASSET, WRITER_POOL, default_args

LANDING = Asset(LANDING_ASSET)


@dag(
    dag_id="peacewatch_process",
    schedule=[LANDING],
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # runs queue up behind each other; each loads whatever landed since the last one
    dagrun_timeout=timedelta(hours=3),
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=1)),
    tags=["peacewatch"],
    doc_md=__doc__,
)
def peacewatch_process():
    @task(pool=WRITER_POOL, execution_timeout=timedelta(minutes=30))
    def load() -> str:
        from peacewatch.orchestration import load

        return load()

    @task(pool=WRITER_POOL, execution_timeout=timedelta(minutes=60))
    def classify() -> str:
        from peacewatch.orchestration import classify

        return classify()

    load() >> classify()


peacewatch_process()
