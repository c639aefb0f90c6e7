"""What the Airflow DAGs (dags/) run, and where their settings come from.

The DAG files import this module at parse time, so it imports only the standard library at top level: the
pipeline, Scrapy, DuckDB and the classifier are imported inside the functions that the tasks call.

Settings. Each one is looked up as

    the Airflow Variable  peacewatch_<name>   (UI, `airflow variables set`, or $AIRFLOW_VAR_PEACEWATCH_<NAME>)
    else the environment  $PEACEWATCH_<NAME>
    else the default      (from config/peacewatch.yaml or config/sources.yaml where there is one)

SMTP (digest and failure alerts) comes from the Airflow Connection `smtp_default` (the Variable
`peacewatch_smtp_conn_id` names another one), else from $PEACEWATCH_SMTP_HOST/_PORT/_USER/_PASSWORD, the
digest's own settings. No setting here is a secret, and none is written in code.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl as ssl_module
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The landing zone as an Airflow Asset: every successful crawl task emits an event; peacewatch_process runs on it.
LANDING_ASSET = "peacewatch-landing"
# DuckDB allows one read-write process per file and a reader waits only seconds for a writer: load, classify
# and the digest (a reader) share this pool of one slot. Created by airflow-init / scripts/airflow-standalone.sh.
WRITER_POOL = "peacewatch_duckdb"
WRITER_POOL_SLOTS = 1
WRITER_POOL_DESCRIPTION = "DuckDB has one writer: load, classify and the digest take turns"

# The crawl DAG ticks every 30 minutes; a tick crawls the sources whose own cron (sources.yaml) fired since
# the previous tick. Manual runs crawl every enabled source (or the ones named in the run's params).
CRAWL_SCHEDULE = "*/30 * * * *"
CRAWL_EXECUTION_TIMEOUT = timedelta(minutes=45)
# The digest for day D runs at 06:00 UTC on D+1 (data interval D 06:00 -> D+1 06:00; logical date = D).
DIGEST_SCHEDULE = "0 6 * * *"
DEFAULT_DIGEST_START = "2025-01-01"

SETTINGS: dict[str, str] = {
    "data_dir": "data folder: landing/, raw/, warehouse.duckdb, reports/ (default ./data)",
    "sources": "sources file (default: `sources` in config/peacewatch.yaml, i.e. config/sources.yaml)",
    "crawl_timeout": "seconds before a crawl subprocess is stopped (default: crawler.subprocess_timeout)",
    "crawl_settings": 'JSON object of Scrapy setting overrides, e.g. {"DOWNLOAD_DELAY": 0} (default {})',
    "send_digest": "auto (send when recipients and SMTP are configured), true, or false (default auto)",
    "digest_recipients": "comma-separated addresses of the digest (default: digest.recipients)",
    "alert_emails": "comma-separated addresses for failure alerts (default: the digest recipients)",
    "smtp_conn_id": "Airflow Connection with the SMTP server (default smtp_default)",
    "digest_catchup": "true: the digest DAG backfills every day since digest_start_date (parse time)",
    "digest_start_date": f"first day of the digest DAG, YYYY-MM-DD (default {DEFAULT_DIGEST_START}; parse time)",
}


# -- settings ---------------------------------------------------------------------------------------------

def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def setting(name: str, default: str | None = None) -> str | None:
    """The Variable `peacewatch_<name>`, else $PEACEWATCH_<NAME>, else `default` (empty counts as unset)."""
    if name not in SETTINGS:
        raise KeyError(f"unknown peacewatch setting {name!r}")
    env = os.environ.get(f"PEACEWATCH_{name.upper()}")
    fallback = env if env not in (None, "") else default
    try:
        from airflow.sdk import Variable

        value = Variable.get(f"peacewatch_{name}", default=None)
    except Exception:  # noqa: BLE001 - no Airflow, or its API is unreachable: use the environment
        value = None
    return value if value not in (None, "") else fallback


def _project_settings() -> dict[str, Any]:
    from peacewatch.config import settings

    return settings()


def data_dir() -> Path:
    return Path(setting("data_dir", "data")).expanduser().resolve()


def sources_path() -> Path | None:
    value = setting("sources")
    return Path(value).expanduser() if value else None


def crawl_timeout() -> float:
    value = setting("crawl_timeout")
    if value:
        return float(value)
    return float((_project_settings().get("crawler") or {}).get("subprocess_timeout", 1800))


def crawl_settings() -> dict[str, Any]:
    value = setting("crawl_settings", "{}")
    overrides = json.loads(value)
    if not isinstance(overrides, dict):
        raise ValueError(f"peacewatch_crawl_settings must be a JSON object, got {value!r}")
    return overrides


def _addresses(value: str | list | None) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").replace(";", ",").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def digest_recipients() -> list[str]:
    return _addresses(setting("digest_recipients")) or _addresses(
        (_project_settings().get("digest") or {}).get("recipients"))


def alert_recipients() -> list[str]:
    return _addresses(setting("alert_emails")) or digest_recipients()


def digest_catchup() -> bool:
    """Read when the digest DAG file is parsed: turning it on makes the scheduler backfill past days."""
    return _truthy(setting("digest_catchup", "false"))


def digest_start_date() -> datetime:
    value = setting("digest_start_date", DEFAULT_DIGEST_START)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        log.warning("peacewatch_digest_start_date %r is not YYYY-MM-DD; using %s", value, DEFAULT_DIGEST_START)
        day = date.fromisoformat(DEFAULT_DIGEST_START)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


# -- crawl ------------------------------------------------------------------------------------------------

class SourceUnreachable(RuntimeError):
    """Every request of a crawl failed without a response: a task failure, so Airflow retries and alerts."""


def _utc(moment: datetime) -> datetime:
    return datetime.fromtimestamp(moment.timestamp(), tz=timezone.utc)


def _fired_since_previous_tick(cron: str, tick: datetime) -> bool:
    """Whether `cron` fires in (previous crawl-DAG tick, tick]."""
    from croniter import croniter

    tick = _utc(tick)
    previous = croniter(CRAWL_SCHEDULE, tick).get_prev(datetime)
    return croniter(cron, previous).get_next(datetime) <= tick


def sources_due(logical_date: datetime | None = None, scheduled: bool = False,
                requested: list[str] | None = None) -> list[str]:
    """Source ids to crawl: the `requested` ones; on a scheduled tick the enabled sources whose cron fired
    since the previous tick; otherwise (manual runs, tests) every enabled source."""
    from peacewatch.crawlers.sources import load_sources, select_sources

    sources = load_sources(sources_path())
    if requested:
        return [source.id for source in select_sources(sources, list(requested))]
    enabled = [source for source in sources if source.enabled]
    if not scheduled or logical_date is None:
        return [source.id for source in enabled]
    return [source.id for source in enabled if _fired_since_previous_tick(source.schedule, logical_date)]


def crawl_source(source_id: str, execution_timeout: timedelta | None = None) -> dict[str, Any]:
    """Crawl one source in a subprocess (Scrapy's reactor cannot restart in a process) into the landing zone.

    The subprocess gets `crawl_timeout` seconds, trimmed to end before the task's execution timeout so the
    child is always stopped by us, never orphaned. Raises SourceUnreachable when nothing answered.
    """
    from peacewatch.crawlers.run import GRACE_SECONDS, crawl

    timeout = crawl_timeout()
    if execution_timeout is not None:
        timeout = max(30.0, min(timeout, execution_timeout.total_seconds() - GRACE_SECONDS - 60))
    manifest = crawl(data_dir(), sources_path(), [source_id], crawl_settings(), timeout=timeout)
    stats = next((s for s in manifest.sources if s.source_id == source_id), None)
    summary = {
        "source_id": source_id,
        "run_id": manifest.run_id,
        "items": stats.items if stats else 0,
        "requests": stats.requests if stats else 0,
        "responses": dict(stats.responses_by_status) if stats else {},
        "skipped": dict(stats.drops_by_reason) if stats else {},
    }
    log.info("crawl %s: %s", source_id, json.dumps(summary, sort_keys=True))
    if stats is None or (stats.requests and not stats.responses_by_status):
        raise SourceUnreachable(
            f"{source_id}: {summary['requests']} requests and no response (skipped: {summary['skipped']}); "
            f"landing run {manifest.run_id}")
    return summary


# -- process and digest -----------------------------------------------------------------------------------

def load() -> str:
    from peacewatch import pipeline

    return pipeline.describe(pipeline.load(data_dir()))


def classify() -> str:
    from peacewatch import pipeline

    return pipeline.describe(pipeline.classify(data_dir()))


def digest_day(logical_date: datetime | None, requested: str | None = None,
               run_after: datetime | None = None) -> date:
    """The day a digest run covers: the `day` param, else the run's logical date (UTC), else the day before
    the run (a manual run without a logical date)."""
    if requested:
        return date.fromisoformat(str(requested))
    if logical_date is not None:
        return _utc(logical_date).date()
    return _utc(run_after or datetime.now(timezone.utc)).date() - timedelta(days=1)


def digest(day: date, send: bool | None = None) -> dict[str, Any]:
    """Render the digest for `day` into <data>/reports/<day>/ and e-mail it when sending is configured.

    `send` None follows the `send_digest` setting: auto sends when recipients and SMTP are both configured;
    true fails the task when they are not; false never sends.
    """
    from peacewatch import pipeline

    report = pipeline.digest(data_dir(), day)
    result: dict[str, Any] = {"day": day.isoformat(), "html": str(report.html_path), "sent_to": []}
    mode = "true" if send is True else "false" if send is False else (setting("send_digest", "auto") or "auto").lower()
    if mode in {"false", "no", "off", "0", "never"}:
        return result
    recipients, smtp = digest_recipients(), smtp_settings()
    if not recipients or smtp is None:
        missing = "recipients (peacewatch_digest_recipients)" if not recipients else f"SMTP ({smtp_help()})"
        if mode == "auto":
            log.info("digest %s rendered, not sent: no %s configured", day, missing)
            return result
        raise RuntimeError(f"sending the digest is on but no {missing} is configured")
    shifts = len(report.data.get("shifts") or [])
    subject = f"peacewatch digest {day.isoformat()}: {shifts} shift{'s' if shifts != 1 else ''}"
    send_email(smtp, recipients, subject, Path(report.text_path).read_text(encoding="utf-8"),
               Path(report.html_path).read_text(encoding="utf-8"))
    log.info("digest %s sent to %s via %s", day, ", ".join(recipients), smtp.source)
    result["sent_to"] = recipients
    return result


# -- e-mail -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    starttls: bool = False
    timeout: float = 30.0
    source: str = ""


def smtp_help() -> str:
    return (f"Airflow Connection {setting('smtp_conn_id', 'smtp_default')!r} "
            "or $PEACEWATCH_SMTP_HOST/_PORT/_USER/_PASSWORD")


def _connection(conn_id: str):
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - not defined (or no Airflow): fall back to the environment
        return None


def smtp_settings() -> SmtpSettings | None:
    """The SMTP server: the Airflow Connection, else the PEACEWATCH_SMTP_* environment, else None.

    A Connection reads like the SMTP provider's: SSL unless extra `disable_ssl`, STARTTLS unless extra
    `disable_tls`, sender from extra `from_email`. From the environment: SSL on port 465 (or
    PEACEWATCH_SMTP_SSL=true), STARTTLS on port 587 (or PEACEWATCH_SMTP_STARTTLS=true), sender
    $PEACEWATCH_DIGEST_FROM.
    """
    default_sender = os.environ.get("PEACEWATCH_DIGEST_FROM") or "peacewatch@localhost"
    conn_id = setting("smtp_conn_id", "smtp_default") or "smtp_default"
    conn = _connection(conn_id)
    if conn is not None and conn.host:
        extra = conn.extra_dejson or {}
        use_ssl = not _truthy(extra.get("disable_ssl", False))
        return SmtpSettings(
            host=conn.host,
            port=int(conn.port or (465 if use_ssl else 587)),
            sender=extra.get("from_email") or default_sender,
            user=conn.login or None,
            password=conn.password or None,
            ssl=use_ssl,
            starttls=not use_ssl and not _truthy(extra.get("disable_tls", False)),
            timeout=float(extra.get("timeout", 30)),
            source=f"connection {conn_id}",
        )
    host = os.environ.get("PEACEWATCH_SMTP_HOST")
    if not host:
        return None
    port = int(os.environ.get("PEACEWATCH_SMTP_PORT") or 25)
    return SmtpSettings(
        host=host,
        port=port,
        sender=default_sender,
        user=os.environ.get("PEACEWATCH_SMTP_USER") or None,
        password=os.environ.get("PEACEWATCH_SMTP_PASSWORD") or None,
        ssl=_truthy(os.environ.get("PEACEWATCH_SMTP_SSL", port == 465)),
        starttls=_truthy(os.environ.get("PEACEWATCH_SMTP_STARTTLS", port == 587)),
        source="environment PEACEWATCH_SMTP_*",
    )


def send_email(smtp: SmtpSettings, recipients: list[str], subject: str, text: str, html: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    client_class = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    with client_class(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl_module.create_default_context())
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        client.send_message(message, from_addr=smtp.sender, to_addrs=recipients)


# -- failure alerts ---------------------------------------------------------------------------------------

def alert_on_failure(context: dict[str, Any]) -> None:
    """on_failure_callback of every peacewatch task: e-mail who is on call. Never raises: a broken mail
    server must not hide the task's own failure."""
    try:
        _send_failure_alert(context)
    except Exception:  # noqa: BLE001
        log.exception("peacewatch: the failure alert could not be sent")


def _send_failure_alert(context: dict[str, Any]) -> None:
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    label = f"{dag_id}.{task_id}" + (f"[{map_index}]" if map_index is not None and map_index >= 0 else "")
    error = context.get("exception")
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0] if error else "unknown error"
    recipients = alert_recipients()
    if not recipients:
        log.warning("peacewatch: %s failed; no alert sent: set the Variable peacewatch_alert_emails", label)
        return
    smtp = smtp_settings()
    if smtp is None:
        log.warning("peacewatch: %s failed; no alert sent: no SMTP configured (%s)", label, smtp_help())
        return
    try:
        log_url = ti.log_url if ti is not None else None
    except Exception:  # noqa: BLE001 - the URL is a nicety
        log_url = None
    lines = [
        f"Task:          {label}",
        f"Run:           {context.get('run_id') or getattr(ti, 'run_id', '?')}",
        f"Logical date:  {context.get('logical_date')}",
        f"Try:           {getattr(ti, 'try_number', '?')} (retries exhausted)",
        f"Log:           {log_url or '-'}",
        "",
        f"Error: {type(error).__name__ if error is not None else '-'}",
        str(error or ""),
    ]
    subject = f"[peacewatch] {label} failed: {first_line}"[:200]
    send_email(smtp, recipients, subject, "\n".join(lines) + "\n")
    log.info("peacewatch: failure alert for %s sent to %s", label, ", ".join(recipients))


# -- shared task arguments --------------------------------------------------------------------------------

def default_args(**overrides: Any) -> dict[str, Any]:
    """default_args of every peacewatch DAG: retries with exponential backoff and the failure alert."""
    args: dict[str, Any] = {
        "owner": "peacewatch",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,  # the multiplier: 1, 2, 4 x retry_delay, capped below
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": alert_on_failure,
    }
    args.update(overrides)
    return args
