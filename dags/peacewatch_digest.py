"""Render (and e-mail) the daily digest for the run's logical date; catchup backfills past days."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="peacewatch_digest",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(minutes=20)},
    tags=["peacewatch"],
)
def peacewatch_digest():
    @task
    def digest(ds: str | None = None) -> str:
        from peacewatch.orchestration import digest

        return digest(ds)

    digest()


peacewatch_digest()
