"""The Airflow DAG files: they import cleanly and quickly, are configured as documented, and the task
functions in peacewatch.orchestration read their settings and send their e-mails as documented.

The DAG runs themselves are in test_airflow_e2e.py."""

from __future__ import annotations

import email
import json
import os
import socket
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone
from email.policy import default as default_policy
from pathlib import Path
from types import SimpleNamespace

import pytest

from peacewatch import orchestration

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
HEAVY = ["scrapy", "duckdb", "torch", "transformers", "trafilatura", "matplotlib", "peacewatch.pipeline",
         "peacewatch.crawlers", "peacewatch.warehouse", "peacewatch.nlp", "peacewatch.digest"]

# Parses dags/ twice in a fresh interpreter (digest catchup off, then on via its Variable) and describes
# every DAG and task as JSON.
PARSE = textwrap.dedent("""
    import json, os, sys, time
    from airflow.dag_processing.dagbag import DagBag

    def describe(bag):
        dags = {}
        for dag_id, dag in bag.dags.items():
            dags[dag_id] = {
                "schedule": str(dag.timetable), "catchup": dag.catchup, "start_date": dag.start_date.isoformat(),
                "max_active_runs": dag.max_active_runs, "params": sorted(dag.params),
                "tasks": {t.task_id: {
                    "mapped": type(t).__name__.endswith("MappedOperator"), "retries": t.retries,
                    "retry_delay": t.retry_delay.total_seconds(), "backoff": t.retry_exponential_backoff,
                    "max_retry_delay": t.max_retry_delay.total_seconds() if t.max_retry_delay else None,
                    "execution_timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                    "pool": t.pool, "on_failure_callback": [f"{c.__module__}.{c.__qualname__}" for c in
                        (t.on_failure_callback if isinstance(t.on_failure_callback, list) else [t.on_failure_callback])
                        if c],
                    "outlets": [getattr(o, "name", str(o)) for o in t.outlets],
                } for t in dag.tasks},
            }
        return dags

    modules_before = set(sys.modules)
    started = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    seconds = time.perf_counter() - started
    report = {
        "errors": {k: str(v) for k, v in bag.import_errors.items()},
        "seconds": seconds,
        "files": {os.path.basename(s.file): s.duration.total_seconds() for s in bag.dagbag_stats},
        "new_modules": sorted(set(sys.modules) - modules_before),
        "dags": describe(bag),
    }
    os.environ["AIRFLOW_VAR_PEACEWATCH_DIGEST_CATCHUP"] = "true"
    os.environ["AIRFLOW_VAR_PEACEWATCH_DIGEST_START_DATE"] = "2025-02-15"
    report["dags_with_catchup"] = describe(DagBag(dag_folder=sys.argv[1]))
    print(json.dumps(report))
""")


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-parse")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PEACEWATCH_"))}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "HOME": str(home),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    result = subprocess.run([sys.executable, "-c", PARSE, str(DAGS)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dagbag_imports_without_errors(parsed):
    assert parsed["errors"] == {}
    assert sorted(parsed["dags"]) == ["peacewatch_crawl", "peacewatch_digest", "peacewatch_process"]


def test_dag_files_parse_fast_and_import_nothing_heavy(parsed):
    assert set(parsed["files"]) == {"peacewatch_crawl.py", "peacewatch_digest.py", "peacewatch_process.py"}
    slow = {name: seconds for name, seconds in parsed["files"].items() if seconds >= 1.0}
    assert not slow, f"DAG files must parse in under 1 s each: {slow}"
    heavy = [m for m in parsed["new_modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert not heavy, f"imported at parse time: {heavy}"


def test_every_task_has_timeout_retries_and_failure_alert(parsed):
    for dag_id, dag in parsed["dags"].items():
        assert dag["max_active_runs"] == 1, dag_id
        for task_id, task in dag["tasks"].items():
            where = f"{dag_id}.{task_id}"
            assert task["execution_timeout"] and task["execution_timeout"] <= 3600, where
            assert task["retries"] >= 1 and task["backoff"] == 2.0 and task["max_retry_delay"] == 1800, where
            assert task["on_failure_callback"] == ["peacewatch.orchestration.alert_on_failure"], where


def test_crawl_dag(parsed):
    dag = parsed["dags"]["peacewatch_crawl"]
    assert "*/30 * * * *" in dag["schedule"] and dag["catchup"] is False
    assert dag["params"] == ["sources"]
    crawl = dag["tasks"]["crawl_source"]
    assert crawl["mapped"] is True and crawl["outlets"] == [orchestration.LANDING_ASSET]
    assert (crawl["retries"], crawl["retry_delay"], crawl["execution_timeout"]) == (3, 120, 45 * 60)


def test_process_dag_runs_on_the_landing_asset_in_the_writer_pool(parsed):
    dag = parsed["dags"]["peacewatch_process"]
    assert "Asset" in dag["schedule"] or "asset" in dag["schedule"].lower()
    assert {t: v["pool"] for t, v in dag["tasks"].items()} == {"load": orchestration.WRITER_POOL,
                                                                 "classify": orchestration.WRITER_POOL}


def test_digest_dag_catchup_comes_from_a_variable(parsed):
    dag = parsed["dags"]["peacewatch_digest"]
    assert "CronDataIntervalTimetable" in dag["schedule"] and "0 6 * * *" in dag["schedule"]
    assert dag["catchup"] is False and dag["params"] == ["day", "send"]
    assert dag["tasks"]["digest"]["pool"] == orchestration.WRITER_POOL
    backfilling = parsed["dags_with_catchup"]["peacewatch_digest"]
    assert backfilling["catchup"] is True and backfilling["start_date"].startswith("2025-02-15")
    assert parsed["dags_with_catchup"]["peacewatch_crawl"]["catchup"] is False


def test_digest_schedule_covers_the_logical_date():
    """The run for day D has logical date D 06:00 UTC and starts once D is over (06:00 on D+1)."""
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(CronDataIntervalTimetable(orchestration.DIGEST_SCHEDULE, timezone="UTC"))
    start = datetime(2025, 2, 15, tzinfo=timezone.utc)
    first = timetable.next_dagrun_info(last_automated_data_interval=None,
                                       restriction=TimeRestriction(earliest=start, latest=None, catchup=True))
    second = timetable.next_dagrun_info(last_automated_data_interval=first.data_interval,
                                        restriction=TimeRestriction(earliest=start, latest=None, catchup=True))
    assert first.logical_date == datetime(2025, 2, 15, 6, tzinfo=timezone.utc)
    assert first.run_after == datetime(2025, 2, 16, 6, tzinfo=timezone.utc)
    assert isinstance(first.data_interval, DataInterval)
    assert second.logical_date == datetime(2025, 2, 16, 6, tzinfo=timezone.utc)  # catchup: every past day
    assert orchestration.digest_day(first.logical_date) == date(2025, 2, 15)


# -- peacewatch.orchestration, outside a DAG run ----------------------------------------------------------

@pytest.fixture
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith(("AIRFLOW_VAR_PEACEWATCH_", "AIRFLOW_CONN_", "PEACEWATCH_")):
            monkeypatch.delenv(key)
    return monkeypatch


def test_settings_variable_then_environment_then_default(clean_env):
    assert orchestration.setting("send_digest", "auto") == "auto"
    clean_env.setenv("PEACEWATCH_SEND_DIGEST", "false")
    assert orchestration.setting("send_digest", "auto") == "false"
    clean_env.setenv("AIRFLOW_VAR_PEACEWATCH_SEND_DIGEST", "true")
    assert orchestration.setting("send_digest", "auto") == "true"
    with pytest.raises(KeyError):
        orchestration.setting("no_such_setting")
    # defaults from the project config
    assert orchestration.crawl_timeout() == 1800.0 and orchestration.crawl_settings() == {}
    assert orchestration.digest_recipients() == [] and orchestration.alert_recipients() == []
    clean_env.setenv("AIRFLOW_VAR_PEACEWATCH_DIGEST_RECIPIENTS", "a@example.org, b@example.org")
    assert orchestration.alert_recipients() == ["a@example.org", "b@example.org"]
    clean_env.setenv("AIRFLOW_VAR_PEACEWATCH_CRAWL_SETTINGS", "[1]")
    with pytest.raises(ValueError, match="JSON object"):
        orchestration.crawl_settings()


def test_scheduled_ticks_crawl_the_sources_whose_cron_fired(clean_env):
    # baltic_wire runs every 30 minutes, the others every 2 hours (config/sources.yaml)
    every = orchestration.sources_due()
    assert len(every) == 10 and "baltic_wire" in every
    half_past = datetime(2025, 5, 31, 10, 30, tzinfo=timezone.utc)
    assert orchestration.sources_due(half_past, scheduled=True) == ["baltic_wire"]
    assert orchestration.sources_due(half_past.replace(minute=0), scheduled=True) == every
    assert orchestration.sources_due(half_past.replace(hour=11, minute=0), scheduled=True) == ["baltic_wire"]
    assert orchestration.sources_due(half_past, scheduled=False) == every  # manual runs crawl everything
    assert orchestration.sources_due(requested=["kyiv_khvylia"]) == ["kyiv_khvylia"]
    with pytest.raises(Exception, match="unknown source"):
        orchestration.sources_due(requested=["nope"])


def test_digest_day():
    assert orchestration.digest_day(datetime(2025, 5, 31, 6, tzinfo=timezone.utc)) == date(2025, 5, 31)
    assert orchestration.digest_day(None, "2025-04-01") == date(2025, 4, 1)
    assert orchestration.digest_day(None, None, datetime(2025, 6, 1, 9, tzinfo=timezone.utc)) == date(2025, 5, 31)


def test_smtp_from_the_connection_else_the_environment(clean_env):
    assert orchestration.smtp_settings() is None
    clean_env.setenv("PEACEWATCH_SMTP_HOST", "relay.example.org")
    clean_env.setenv("PEACEWATCH_SMTP_PORT", "587")
    clean_env.setenv("PEACEWATCH_SMTP_PASSWORD", "not-in-repr")
    clean_env.setenv("PEACEWATCH_DIGEST_FROM", "desk@example.org")
    smtp = orchestration.smtp_settings()
    assert (smtp.host, smtp.port, smtp.starttls, smtp.ssl, smtp.sender) == ("relay.example.org", 587, True, False,
                                                                           "desk@example.org")
    assert "not-in-repr" not in repr(smtp)
    clean_env.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "mail.example.org", "port": 465, "login": "bot", "password": "secret-pw",
        "extra": {"from_email": "bot@example.org"}}))
    smtp = orchestration.smtp_settings()
    assert (smtp.host, smtp.port, smtp.ssl, smtp.starttls, smtp.user, smtp.sender) == (
        "mail.example.org", 465, True, False, "bot", "bot@example.org")
    assert smtp.source == "connection smtp_default"


class _Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=default_policy)))
        return "250 OK"


@pytest.fixture
def smtp_server(clean_env):
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    clean_env.setenv("PEACEWATCH_SMTP_HOST", "127.0.0.1")
    clean_env.setenv("PEACEWATCH_SMTP_PORT", str(port))
    try:
        yield box
    finally:
        controller.stop()


def _failure_context(error: Exception) -> dict:
    ti = SimpleNamespace(dag_id="peacewatch_process", task_id="load", map_index=-1, try_number=3,
                         run_id="scheduled__2025-05-31", log_url="http://airflow.example.org/log")
    return {"ti": ti, "exception": error, "logical_date": datetime(2025, 5, 31, tzinfo=timezone.utc)}


def test_failure_alert_is_mailed(smtp_server, clean_env):
    clean_env.setenv("AIRFLOW_VAR_PEACEWATCH_ALERT_EMAILS", "oncall@example.org")
    orchestration.alert_on_failure(_failure_context(RuntimeError("warehouse.duckdb is locked\nmore detail")))
    [(rcpt, message)] = smtp_server.messages
    assert rcpt == ["oncall@example.org"]
    assert message["Subject"].strip() == "[peacewatch] peacewatch_process.load failed: warehouse.duckdb is locked"
    body = message.get_content()
    assert "Try:           3" in body and "http://airflow.example.org/log" in body and "more detail" in body


def test_failure_alert_never_raises(clean_env, caplog):
    orchestration.alert_on_failure(_failure_context(RuntimeError("boom")))  # no recipients: a warning
    assert "no alert sent" in caplog.text
    clean_env.setenv("AIRFLOW_VAR_PEACEWATCH_ALERT_EMAILS", "oncall@example.org")
    clean_env.setenv("PEACEWATCH_SMTP_HOST", "127.0.0.1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        clean_env.setenv("PEACEWATCH_SMTP_PORT", str(probe.getsockname()[1]))  # closed once the probe is
    orchestration.alert_on_failure(_failure_context(RuntimeError("boom")))  # refused: logged, not raised
    assert "could not be sent" in caplog.text


def _fake_digest(tmp_path):
    def render(data_dir, day, *args, **kwargs):
        out = tmp_path / day.isoformat()
        out.mkdir(parents=True, exist_ok=True)
        (out / "digest.txt").write_text("text", encoding="utf-8")
        (out / "digest.html").write_text("<p>html</p>", encoding="utf-8")
        return SimpleNamespace(day=day, html_path=out / "digest.html", text_path=out / "digest.txt",
                               data={"shifts": [1, 2]})
    return render


def test_digest_is_sent_only_when_configured(smtp_server, clean_env, tmp_path):
    clean_env.setattr("peacewatch.pipeline.digest", _fake_digest(tmp_path))
    day = date(2025, 5, 31)
    assert orchestration.digest(day)["sent_to"] == []  # auto, no recipients: rendered only
    assert smtp_server.messages == []
    clean_env.setenv("AIRFLOW_VAR_PEACEWATCH_DIGEST_RECIPIENTS", "desk@example.org")
    assert orchestration.digest(day, send=False)["sent_to"] == []
    result = orchestration.digest(day)
    assert result == {"day": "2025-05-31", "html": str(tmp_path / "2025-05-31" / "digest.html"),
                      "sent_to": ["desk@example.org"]}
    [(rcpt, message)] = smtp_server.messages
    assert message["Subject"].strip() == "peacewatch digest 2025-05-31: 2 shifts"
    assert message.get_body(("html",)).get_content().strip() == "<p>html</p>"
    clean_env.delenv("PEACEWATCH_SMTP_HOST")
    assert orchestration.digest(day)["sent_to"] == []  # auto without SMTP: not sent, no error
    with pytest.raises(RuntimeError, match="no SMTP"):
        orchestration.digest(day, send=True)
