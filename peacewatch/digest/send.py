"""E-mail a rendered digest over SMTP.

The message is built from the files on disk (render first, then send: a failed send never loses the
digest, and a digest can be re-sent later from its folder):

    multipart/alternative
      text/plain            digest.txt
      multipart/related
        text/html           digest.html, each <img src="x.png"> rewritten to src="cid:..."
        image/png ...       the referenced PNGs, inline, with matching Content-IDs

SMTP settings come from the environment, or from an Airflow connection when a connection id is given
(Airflow is imported only then):

    PEACEWATCH_SMTP_HOST       required
    PEACEWATCH_SMTP_PORT       default 465 for ssl, 587 for starttls, 25 for none
    PEACEWATCH_SMTP_SECURITY   ssl | starttls | none (plain, for local catchers); default starttls
    PEACEWATCH_SMTP_USER       optional; with PEACEWATCH_SMTP_PASSWORD, log in
    PEACEWATCH_SMTP_PASSWORD   never logged, never in an error message
    PEACEWATCH_SMTP_FROM       sender address (default: the user, if it is an address)
    PEACEWATCH_SMTP_TIMEOUT    seconds per SMTP operation, default 30

Recipients: $PEACEWATCH_DIGEST_TO (comma-separated) or else digest.recipients in config/peacewatch.yaml.
Transient failures (connection refused or dropped, timeouts, 4xx replies) are retried with exponential
backoff, a bounded number of times (digest.send_attempts, digest.send_backoff_seconds); permanent ones
(5xx, TLS certificate errors) fail at once. Either way the caller gets one DigestSendError whose message
says what failed and where the digest is on disk.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from peacewatch.config import settings

log = logging.getLogger(__name__)

SECURITY_MODES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 120.0
_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"/\\:]+\.png)(")', re.IGNORECASE)
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class DigestSendError(RuntimeError):
    """The digest could not be e-mailed (it is still on disk; the message says where)."""


class SmtpNotConfigured(DigestSendError):
    """No SMTP server is configured there at all (as opposed to a configuration that is wrong)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "starttls"
    sender: str = ""
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    origin: str = ""  # where the settings came from, for messages

    def describe(self) -> str:
        login = f" as {self.user}" if self.user else ""
        origin = f"; settings from {self.origin}" if self.origin else ""
        return f"{self.host}:{self.port} ({self.security}{login}{origin})"


@dataclass
class SendResult:
    recipients: list[str]
    attempts: int
    message_id: str
    refused: dict[str, Any] = field(default_factory=dict)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _check_security(security: str, origin: str) -> str:
    security = (security or "starttls").strip().lower()
    if security not in SECURITY_MODES:
        raise DigestSendError(f"{origin}: SMTP security must be one of {', '.join(SECURITY_MODES)}, not {security!r}")
    return security


def _sender(explicit: str | None, user: str | None, origin: str) -> str:
    sender = (explicit or "").strip() or (user if user and "@" in user else "")
    if not sender:
        raise DigestSendError(f"{origin}: no sender address: set PEACEWATCH_SMTP_FROM")
    return _valid_address(sender, "sender")


def smtp_from_env(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    env = os.environ if environ is None else environ
    origin = "environment"
    host = env.get("PEACEWATCH_SMTP_HOST", "").strip()
    if not host:
        raise SmtpNotConfigured("cannot send the digest: PEACEWATCH_SMTP_HOST is not set (or pass an Airflow SMTP connection id)")
    security = _check_security(env.get("PEACEWATCH_SMTP_SECURITY", "starttls"), "PEACEWATCH_SMTP_SECURITY")
    try:
        port = int(env.get("PEACEWATCH_SMTP_PORT") or DEFAULT_PORTS[security])
        timeout = float(env.get("PEACEWATCH_SMTP_TIMEOUT") or 30)
    except ValueError as exc:
        raise DigestSendError(f"PEACEWATCH_SMTP_PORT / PEACEWATCH_SMTP_TIMEOUT must be numbers: {exc}") from None
    user = env.get("PEACEWATCH_SMTP_USER") or None
    return SmtpSettings(host, port, security, _sender(env.get("PEACEWATCH_SMTP_FROM"), user, origin), user,
                        env.get("PEACEWATCH_SMTP_PASSWORD") or None, timeout, origin)


def smtp_from_airflow(conn_id: str) -> SmtpSettings:
    """An Airflow SMTP connection: host, port, login, password; extras `security` (ssl|starttls|none) or the
    SMTP provider's `disable_ssl` / `disable_tls`, `from_email`, `timeout`."""
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 2
        from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    origin = f"Airflow connection {conn_id!r}"
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises its own types; one clear message instead
        raise SmtpNotConfigured(f"{origin}: cannot read it: {exc.__class__.__name__}: {exc}") from None
    extra = conn.extra_dejson or {}
    if extra.get("security"):
        security = _check_security(str(extra["security"]), origin)
    elif _flag(extra.get("disable_ssl", False)):
        security = "none" if _flag(extra.get("disable_tls", False)) else "starttls"
    else:
        security = "ssl"
    if not conn.host:
        raise DigestSendError(f"{origin}: no host")
    user = conn.login or None
    return SmtpSettings(conn.host, int(conn.port or DEFAULT_PORTS[security]), security,
                        _sender(extra.get("from_email"), user, origin), user, conn.password or None,
                        float(extra.get("timeout") or 30), origin)


def smtp_settings(conn_id: str | None = None, environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The Airflow connection `conn_id` when given, else the PEACEWATCH_SMTP_* environment."""
    return smtp_from_airflow(conn_id) if conn_id else smtp_from_env(environ)


def find_smtp_settings(conn_id: str | None = None, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """For callers where sending is optional: the Airflow connection `conn_id` if it exists, else the
    environment if PEACEWATCH_SMTP_HOST is set, else None. A configuration that exists but is wrong
    still raises DigestSendError."""
    if conn_id:
        try:
            return smtp_from_airflow(conn_id)
        except SmtpNotConfigured:
            pass
    try:
        return smtp_from_env(environ)
    except SmtpNotConfigured:
        return None


def _valid_address(value: str, what: str) -> str:
    value = value.strip()
    _name, address = parseaddr(value)
    if not address or "@" not in address or any(c in value for c in "\r\n"):
        raise DigestSendError(f"invalid {what} address {value!r}")
    return value


def recipients(explicit: list[str] | str | None = None, environ: Mapping[str, str] | None = None) -> list[str]:
    """Explicit recipients, else $PEACEWATCH_DIGEST_TO (comma-separated), else digest.recipients."""
    env = os.environ if environ is None else environ
    source = explicit
    if not source:
        source = env.get("PEACEWATCH_DIGEST_TO") or (settings().get("digest") or {}).get("recipients") or []
    if isinstance(source, str):
        source = re.split(r"[,;]", source)
    found = [_valid_address(str(r), "recipient") for r in source if str(r).strip()]
    if not found:
        raise DigestSendError("no recipients: set PEACEWATCH_DIGEST_TO or digest.recipients in config/peacewatch.yaml")
    return list(dict.fromkeys(found))


# --- the message -----------------------------------------------------------------------------------------


def report_folder(report: Any) -> tuple[Path, date | None]:
    """(the digest folder, its day) of a DigestReport or of a folder path."""
    if isinstance(report, (str, os.PathLike)):
        folder = Path(report)
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            day = None
        return folder, day
    return Path(report.out_dir), report.day


def build_message(folder: Path, sender: str, to: list[str], subject: str | None = None) -> EmailMessage:
    """The multipart e-mail for the digest in `folder` (digest.txt, digest.html and its PNGs)."""
    folder = Path(folder)
    try:
        text = (folder / "digest.txt").read_text(encoding="utf-8")
        page = (folder / "digest.html").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DigestSendError(f"no rendered digest in {folder}: {exc.filename} is missing") from None
    if subject is None:
        match = _TITLE.search(page)
        subject = " ".join(html.unescape(match.group(1)).split()) if match else f"peacewatch digest {folder.name}"

    cids: dict[str, str] = {}

    def to_cid(match: re.Match) -> str:
        name = match.group(2)
        if not (folder / name).is_file():
            log.warning("digest %s: image %s is referenced but missing", folder.name, name)
            return match.group(0)
        if name not in cids:
            cids[name] = make_msgid(idstring=Path(name).stem.replace("_", "-"), domain="peacewatch.digest")
        return f"{match.group(1)}cid:{cids[name][1:-1]}{match.group(3)}"

    page = _IMG_SRC.sub(to_cid, page)

    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring="digest", domain=sender.rpartition("@")[2].strip("> ") or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(page, subtype="html", charset="utf-8")
    html_part = msg.get_payload()[1]
    for name, cid in cids.items():
        html_part.add_related((folder / name).read_bytes(), maintype="image", subtype="png", cid=cid,
                              filename=name, disposition="inline")
    return msg


# --- delivery --------------------------------------------------------------------------------------------


def _transient(exc: BaseException) -> bool:
    """Worth another attempt: connection trouble, timeouts and 4xx replies; not 5xx or TLS verification."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError)):
        return False
    return isinstance(exc, (OSError, EOFError))  # refused, reset, timeout, server disconnected


def _reason(exc: BaseException, smtp: SmtpSettings) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "all recipients refused: " + ", ".join(
            f"{addr} ({code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg})"
            for addr, (code, msg) in exc.recipients.items())
    elif isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        text = f"{exc.__class__.__name__}: {exc.smtp_code} {message}"
    else:
        text = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
    return _scrub(" ".join(text.split()), smtp)


def _scrub(text: str, smtp: SmtpSettings) -> str:
    """Remove the password (plain or in an AUTH PLAIN/LOGIN encoding) from text meant for logs."""
    if not smtp.password:
        return text
    secrets = {smtp.password, base64.b64encode(smtp.password.encode()).decode()}
    if smtp.user:
        secrets.add(base64.b64encode(f"\0{smtp.user}\0{smtp.password}".encode()).decode())
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _deliver(msg: EmailMessage, smtp: SmtpSettings, to: list[str]) -> dict[str, Any]:
    context = ssl.create_default_context()
    if smtp.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.user and smtp.password:
            client.login(smtp.user, smtp.password)
        return client.send_message(msg, from_addr=parseaddr(smtp.sender)[1], to_addrs=[parseaddr(r)[1] for r in to])


def send_digest(
    report: Any,
    *,
    to: list[str] | str | None = None,
    smtp: SmtpSettings | None = None,
    conn_id: str | None = None,
    attempts: int | None = None,
    backoff_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SendResult:
    """E-mail the digest of `report` (a DigestReport or a digest folder) to the recipients.

    Retries transient failures `attempts` times in all, waiting backoff, 2 x backoff, ... (capped) in
    between; raises DigestSendError (the digest stays on disk) when it gives up.
    """
    folder, day = report_folder(report)
    label = day.isoformat() if day else folder.name
    cfg = settings().get("digest") or {}
    attempts = max(1, int(attempts if attempts is not None else cfg.get("send_attempts") or DEFAULT_ATTEMPTS))
    backoff = float(backoff_seconds if backoff_seconds is not None
                    else cfg.get("send_backoff_seconds") or DEFAULT_BACKOFF_SECONDS)
    try:
        smtp = smtp or smtp_settings(conn_id)
        to = recipients(to)
        msg = build_message(folder, smtp.sender, to)
    except DigestSendError as exc:
        raise DigestSendError(f"digest {label} not sent: {exc}; the digest is on disk in {folder}") from None

    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            refused = _deliver(msg, smtp, to)
        except Exception as exc:  # noqa: BLE001 - classified below, reported once
            last = exc
            if not _transient(exc) or attempt == attempts:
                break
            delay = min(backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            log.warning("digest %s: sending via %s failed (attempt %d of %d): %s; retrying in %.1f s",
                        label, smtp.describe(), attempt, attempts, _reason(exc, smtp), delay)
            sleep(delay)
            continue
        if refused:
            log.warning("digest %s: %d recipient(s) refused: %s", label, len(refused), ", ".join(sorted(refused)))
        log.info("digest %s sent to %d recipient(s) via %s (attempt %d)", label, len(to) - len(refused),
                 smtp.describe(), attempt)
        return SendResult(list(to), attempt, msg["Message-ID"], dict(refused))

    assert last is not None
    kind = "gave up" if _transient(last) else "permanent failure"
    message = (f"could not e-mail the digest {label} to {len(to)} recipient(s) via {smtp.describe()} "
               f"({kind} after {attempt} attempt{'s' if attempt != 1 else ''}): {_reason(last, smtp)}; "
               f"the digest is on disk in {folder}")
    raise DigestSendError(message) from last
