"""The DAGs run by Airflow itself: crawl -> process -> digest, a retried failure and its e-mail alert.

Airflow runs in subprocesses (`airflow db migrate`, then `dag.test()`), with a temporary AIRFLOW_HOME and
SQLite metadata DB, HOME and XDG_STATE_HOME in tmp, and the project's dags/ folder. The demo newsroom is
served on loopback by this process, and a real SMTP server (aiosmtpd) on loopback receives the digest and
the failure alert. Settings reach the tasks as Airflow Variables and a Connection in the environment
(AIRFLOW_VAR_* / AIRFLOW_CONN_*). The chain's tasks run without retries, so that a failure shows at once;
the dead outlet's crawl gets one immediate retry (the DAGs' own retry delays are minutes).
"""

from __future__ import annotations

import email
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date
from email.policy import default as default_policy
from pathlib import Path

import pytest

from peacewatch.demo import DEMO_CRAWL_SETTINGS
from peacewatch.newsroom.server import running_newsroom
from peacewatch.orchestration import WRITER_POOL, WRITER_POOL_DESCRIPTION, WRITER_POOL_SLOTS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
VENV_BIN = Path(sys.executable).parent
DAY = date(2025, 5, 31)
OUTLETS = ["baltic_wire", "capitol_dispatch", "continental_review", "dnipro_ledger", "eastern_courier",
           "geneva_monitor", "harbor_times", "kyiv_khvylia", "moskva_vestnik", "pacific_observer"]

# Runs inside the Airflow subprocess. Creates the writer pool (as airflow-init does), then runs each step of
# the plan (argv[2], JSON) with dag.test() and reports task instances, asset events and the asset-triggered
# run queue from the metadata DB as one JSON line. One process for all steps: Airflow's in-process execution
# API takes ~15 s to build on first use.
DRIVER = textwrap.dedent("""
    import json, os, sys, time
    from datetime import datetime, timedelta, timezone

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.pool import Pool
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dags_folder, plan, pool = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    Pool.create_or_update_pool(pool["name"], pool["slots"], pool["description"], include_deferred=False)
    bag = DagBag(dag_folder=dags_folder)
    assert not bag.import_errors, bag.import_errors
    steps = []
    for step in plan:
        os.environ.update(step.get("env", {}))
        dag = bag.dags[step["dag_id"]]
        for task in dag.tasks:  # the DAGs' own retry delays are minutes: retry at once, or fail fast
            task.retries, task.retry_delay = step.get("retries", 0), timedelta(0)
        started = time.perf_counter()
        logical = step.get("logical_date")
        run = dag.test(logical_date=datetime.fromisoformat(logical) if logical else datetime.now(timezone.utc))
        with create_session() as session:
            tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag.dag_id,
                                                             TaskInstance.run_id == run.run_id)).all()
            events = session.execute(select(AssetModel.name, AssetEvent.extra, AssetEvent.source_run_id)
                                     .join(AssetModel, AssetModel.id == AssetEvent.asset_id)).all()
            steps.append({
                "dag_id": dag.dag_id,
                "state": str(run.state),
                "seconds": round(time.perf_counter() - started, 1),
                "logical_date": run.logical_date.isoformat() if run.logical_date else None,
                "tasks": [{"task_id": ti.task_id, "name": ti.rendered_map_index, "state": str(ti.state),
                           "try_number": ti.try_number, "pool": ti.pool} for ti in tis],
                "asset_events": [{"asset": a, "extra": e} for a, e, r in events if r == run.run_id],
                "queued_dags": sorted(session.scalars(select(AssetDagRunQueue.target_dag_id)).all()),
            })
        for key in step.get("env", {}):
            os.environ.pop(key)
    print("REPORT " + json.dumps(steps, default=str))
""")


class _Mailbox:
    """aiosmtpd handler: keeps every message it is handed."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [message for rcpt, message in self.messages if address in rcpt]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mailbox():
    from aiosmtpd.controller import Controller

    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


def _run(env: dict[str, str], args: list[str], log: Path, timeout: float, label: str) -> subprocess.CompletedProcess:
    """Run a command with its stdout and stderr appended to `log`; fail with the log's tail."""
    started = time.perf_counter()
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n===== {label}\n")
        handle.flush()
        result = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=handle, text=True, timeout=timeout,
                                cwd=log.parent)
        handle.write(result.stdout)
    print(f"{label}: {time.perf_counter() - started:.1f}s")
    assert result.returncode == 0, f"{label} failed ({result.returncode}); see {log}:\n{log.read_text()[-4000:]}"
    return result


def _dead_sources(folder: Path) -> Path:
    """A sources file whose only outlet is a closed loopback port."""
    closed_port = _free_port()  # nothing listens there once the probe socket is closed
    path = folder / "dead-sources.yaml"
    path.write_text(textwrap.dedent(f"""
        defaults: {{schedule: "0 */2 * * *", max_pages: 5, enabled: true}}
        sources:
          - id: dead_outlet
            name: Dead Outlet
            homepage: http://127.0.0.1:{closed_port}/dead/
            country: LV
            language: en
            discovery: {{feeds: ["http://127.0.0.1:{closed_port}/dead/rss.xml"]}}
    """), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def airflow_runs(tmp_path_factory, mailbox):
    """Migrate a fresh Airflow, then let it run crawl -> process -> digest on the demo newsroom, and a crawl
    of a dead outlet with one retry. Settings reach the tasks as Variables and a Connection in the env."""
    root = tmp_path_factory.mktemp("airflow-e2e")
    (root / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PEACEWATCH_", "_AIRFLOW"))}
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(root / "home"),
        "XDG_STATE_HOME": str(root / "home" / ".local" / "state"),
        "HF_HUB_OFFLINE": "1",
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # unpaused, so the crawl's asset events queue a peacewatch_process run as the scheduler would
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW_VAR_PEACEWATCH_DATA_DIR": str(root / "data"),
        "AIRFLOW_VAR_PEACEWATCH_CRAWL_SETTINGS": json.dumps(DEMO_CRAWL_SETTINGS),
        "AIRFLOW_VAR_PEACEWATCH_DIGEST_RECIPIENTS": "desk@example.org",
        "AIRFLOW_VAR_PEACEWATCH_ALERT_EMAILS": "oncall@example.org",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": mailbox.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "peacewatch@example.org"},
        }),
    })
    log = root / "airflow.log"
    _run(env, ["airflow", "db", "migrate"], log, timeout=180, label="airflow db migrate")
    pool = {"name": WRITER_POOL, "slots": WRITER_POOL_SLOTS, "description": WRITER_POOL_DESCRIPTION}
    with running_newsroom() as newsroom_url:
        plan = [
            {"dag_id": "peacewatch_crawl", "env": {"PEACEWATCH_NEWSROOM_URL": newsroom_url}},
            {"dag_id": "peacewatch_process"},
            {"dag_id": "peacewatch_digest", "logical_date": f"{DAY.isoformat()}T06:00:00+00:00"},
            {"dag_id": "peacewatch_crawl", "retries": 1, "env": {
                "AIRFLOW_VAR_PEACEWATCH_SOURCES": str(_dead_sources(root)),
                "AIRFLOW_VAR_PEACEWATCH_CRAWL_SETTINGS": json.dumps({**DEMO_CRAWL_SETTINGS, "RETRY_TIMES": 0}),
            }},
        ]
        result = _run(env, [sys.executable, "-c", DRIVER, str(DAGS), json.dumps(plan), json.dumps(pool)], log,
                      timeout=360, label="dag.test: crawl, process, digest, failing crawl")
    line = next(line for line in reversed(result.stdout.splitlines()) if line.startswith("REPORT "))
    steps = json.loads(line.removeprefix("REPORT "))
    for step in steps:
        print(f"{step['dag_id']}: {step['state']} in {step['seconds']}s")
    return {"steps": steps, "data_dir": root / "data", "log": log}


def _query(data_dir: Path, sql: str) -> list[tuple]:
    from peacewatch.warehouse.db import reader

    with reader(data_dir / "warehouse.duckdb") as con:
        return con.execute(sql).fetchall()


def test_crawl_process_digest_chain(airflow_runs, mailbox):
    crawl, process, digest = airflow_runs["steps"][:3]
    assert crawl["state"] == "success", (crawl, airflow_runs["log"])
    crawls = [t for t in crawl["tasks"] if t["task_id"] == "crawl_source"]
    assert sorted(t["name"] for t in crawls) == OUTLETS  # one mapped task per enabled source, named after it
    assert {t["state"] for t in crawl["tasks"]} == {"success"}
    # every crawl emitted an event on the landing Asset, and the events queued the process DAG
    events = [e for e in crawl["asset_events"] if e["asset"] == "peacewatch-landing"]
    assert sorted(e["extra"]["source_id"] for e in events) == OUTLETS
    assert crawl["queued_dags"] == ["peacewatch_process"]

    assert process["state"] == "success", (process, airflow_runs["log"])
    assert [(t["task_id"], t["state"], t["pool"]) for t in sorted(process["tasks"], key=lambda t: t["task_id"])] == [
        ("classify", "success", WRITER_POOL), ("load", "success", WRITER_POOL)]
    assert digest["state"] == "success", (digest, airflow_runs["log"])
    assert digest["logical_date"].startswith(DAY.isoformat())

    data_dir = airflow_runs["data_dir"]
    per_outlet = dict(_query(data_dir, "SELECT source_id, count(*) FROM articles GROUP BY ALL"))
    assert sorted(per_outlet) == OUTLETS and min(per_outlet.values()) > 0, per_outlet
    claims, articles_with_claims = _query(data_dir, "SELECT count(*), count(DISTINCT article_id) FROM claims")[0]
    assert claims > 100 and articles_with_claims > 50

    html = data_dir / "reports" / DAY.isoformat() / "digest.html"
    assert html.is_file() and (html.parent / "digest.txt").is_file()
    sent = mailbox.to("desk@example.org")
    assert len(sent) == 1, [m["Subject"] for m in sent]
    assert sent[0]["Subject"].strip().startswith(f"peacewatch digest {DAY.isoformat()}")
    assert sent[0]["From"] == "peacewatch@example.org"
    assert sent[0].get_body(("html",)) is not None and sent[0].get_body(("plain",)) is not None


def test_failing_crawl_is_retried_then_alerts(airflow_runs, mailbox):
    crawl = airflow_runs["steps"][3]
    assert crawl["state"] == "failed"
    [failed] = [t for t in crawl["tasks"] if t["task_id"] == "crawl_source"]
    assert (failed["name"], failed["state"], failed["try_number"]) == ("dead_outlet", "failed", 2)
    assert crawl["asset_events"] == []  # nothing landed: nothing for peacewatch_process to do

    alerts = mailbox.to("oncall@example.org")
    assert len(alerts) == 1, [m["Subject"] for m in alerts]  # on the final failure only, not on the retry
    subject, body = alerts[0]["Subject"].strip(), alerts[0].get_content()
    assert subject.startswith("[peacewatch] peacewatch_crawl.crawl_source[0] failed: dead_outlet:"), subject
    assert "SourceUnreachable" in body and "Try:           2" in body, body
