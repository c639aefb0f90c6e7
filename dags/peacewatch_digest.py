"""Render the daily digest for the run's logical date and e-mail it when sending is configured.

The run for day D starts at 06:00 UTC on D+1. Backfill past days by setting the Variable
peacewatch_digest_catchup=true (and peacewatch_digest_start_date), or explicitly:
`airflow backfill create --dag-id peacewatch_digest --from-date 2025-02-15 --to-date 2025-05-31`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from peacewatch.orchestration import (
    DIGEST_SCHEDULE,
    WRITER_POOL,
    default_args,
    digest_catchup,
    digest_start_date,
)


@dag(
    dag_id="peacewatch_digest",
    schedule=CronDataIntervalTimetable(DIGEST_SCHEDULE, timezone="UTC"),
    start_date=digest_start_date(),
    catchup=digest_catchup(),
    max_active_runs=1,  # backfilled days render one after the other
    dagrun_timeout=timedelta(hours=1),
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=5), execution_timeout=timedelta(minutes=20)),
    params={
        "day": Param(None, type=["null", "string"], format="date",
                     description="Render this day (YYYY-MM-DD) instead of the logical date"),
        "send": Param(None, type=["null", "boolean"],
                      description="Send (true) or not (false); empty follows the Variable peacewatch_send_digest"),
    },
    tags=["peacewatch"],
    doc_md=__doc__,
)
def peacewatch_digest():
    # A reader, but in the writers' pool: DuckDB refuses readers while a writer holds the file.
    @task(pool=WRITER_POOL, multiple_outputs=False)
    def digest() -> dict:
        from peacewatch.orchestration import digest, digest_day

        context = get_current_context()
        run = context["dag_run"]
        day = digest_day(context.get("logical_date"), context["params"].get("day"), getattr(run, "run_after", None))
        return digest(day, context["params"].get("send"))

    digest()


peacewatch_digest()
