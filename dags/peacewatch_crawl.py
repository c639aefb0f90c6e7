"""Crawl every enabled source, one mapped task each, into the landing zone (an Asset)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

LANDING = Asset("peacewatch-landing")


@dag(
    dag_id="peacewatch_crawl",
    schedule="0 */2 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(minutes=45),
    },
    tags=["peacewatch"],
)
def peacewatch_crawl():
    @task
    def enabled_sources() -> list[str]:
        from peacewatch.orchestration import enabled_source_ids

        return enabled_source_ids()

    @task(outlets=[LANDING], map_index_template="{{ task.op_kwargs['source_id'] }}")
    def crawl_source(source_id: str) -> str:
        from peacewatch.orchestration import crawl_source as crawl

        return crawl(source_id)

    crawl_source.expand(source_id=enabled_sources())


peacewatch_crawl()
