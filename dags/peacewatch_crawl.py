"""Crawl the sources into the landing zone: one mapped task per source, each a Scrapy subprocess.

Scheduled every 30 minutes; a tick crawls the enabled sources whose own cron (config/sources.yaml) fired
since the previous tick. A manual run crawls every enabled source, or those listed in the `sources` param.
Each successful crawl emits an event on the landing Asset, which schedules peacewatch_process.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, Param, dag, get_current_context, task

from peacewatch.orchestration import CRAWL_EXECUTION_TIMEOUT, CRAWL_SCHEDULE, LANDING_ASSET, default_args

LANDING = Asset(LANDING_ASSET)


@dag(
    dag_id="peacewatch_crawl",
    schedule=CRAWL_SCHEDULE,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,  # a missed crawl is simply the next one: no backfill
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    default_args=default_args(
        retries=3,
        retry_delay=timedelta(minutes=2),  # then 4, 8 min (exponential backoff), at most 30 min
        execution_timeout=CRAWL_EXECUTION_TIMEOUT,
    ),
    params={"sources": Param([], type="array", items={"type": "string"},
                             description="Source ids to crawl (manual runs); empty: every enabled source")},
    tags=["peacewatch"],
    doc_md=__doc__,
)
def peacewatch_crawl():
    @task(retries=1, execution_timeout=timedelta(minutes=2))
    def sources_due() -> list[str]:
        from peacewatch.orchestration import sources_due

        context = get_current_context()
        run = context["dag_run"]
        scheduled = str(getattr(run, "run_type", "")).lower().endswith("scheduled")
        return sources_due(context.get("logical_date"), scheduled, context["params"].get("sources"))

    @task(outlets=[LANDING], map_index_template="{{ source_id }}", max_active_tis_per_dag=8,
          multiple_outputs=False)
    def crawl_source(source_id: str) -> dict:
        from peacewatch.orchestration import crawl_source

        context = get_current_context()
        context["source_id"] = source_id  # names the mapped task instance in the UI
        summary = crawl_source(source_id, context["task"].execution_timeout)
        context["outlet_events"][LANDING].extra = summary
        return summary

    crawl_source.expand(source_id=sources_due())


peacewatch_crawl()
