"""Load new landing files and classify new articles whenever a crawl lands data."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

LANDING = Asset("peacewatch-landing")
# DuckDB allows one writer per file: both writing tasks share a pool of one slot.
WRITER_POOL = "peacewatch_duckdb"


@dag(
    dag_id="peacewatch_process",
    schedule=[LANDING],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "execution_timeout": timedelta(minutes=60)},
    tags=["peacewatch"],
)
def peacewatch_process():
    @task(pool=WRITER_POOL)
    def load() -> str:
        from peacewatch.orchestration import load

        return load()

    @task(pool=WRITER_POOL)
    def classify() -> str:
        from peacewatch.orchestration import classify

        return classify()

    load() >> classify()


peacewatch_process()
