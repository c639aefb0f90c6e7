"""E-mailing the digest to a real local SMTP server (aiosmtpd on 127.0.0.1, a free port).

The digest comes from the synthetic warehouse of tests/test_digest.py. Checked: the MIME structure
(multipart/alternative: text/plain + multipart/related: text/html + inline PNGs whose Content-IDs match
the cid: references), the envelope recipients, retries with backoff on refused connections and 4xx
replies, one clear error at the end, no retry on 5xx, the files staying on disk, SMTP AUTH without the
password ever reaching the logs, and settings from an Airflow connection.
"""

from __future__ import annotations

import email
import json
import logging
import re
import socket
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from peacewatch import pipeline
from peacewatch.digest import send
from peacewatch.digest.render import render_digest
from peacewatch.digest.send import DigestSendError, SmtpSettings, send_digest
from test_digest import AS_OF, build_synthetic

TO = ["analyst@example.org", "Desk <desk@example.net>"]
PASSWORD = "s3cret-Pa55word!"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """An aiosmtpd handler that keeps what it receives; `replies` makes the next DATA commands fail."""

    def __init__(self, replies: list[str] | None = None):
        self.envelopes = []
        self.replies = list(replies or [])
        self.data_commands = 0

    async def handle_DATA(self, server, session, envelope):
        self.data_commands += 1
        if self.replies:
            return self.replies.pop(0)
        self.envelopes.append(envelope)
        return "250 OK"


def check_password(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"digest" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server():
    servers = []

    def start(replies: list[str] | None = None, **kwargs) -> tuple[Collector, int]:
        handler = Collector(replies)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        servers.append(controller)
        return handler, port

    yield start
    for controller in servers:
        controller.stop()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    data_dir = build_synthetic(tmp_path_factory.mktemp("mail") / "data")
    return render_digest(pipeline.db_path(data_dir), AS_OF, None, tmp_path_factory.mktemp("reports"))


def local(port: int, **overrides) -> SmtpSettings:
    return SmtpSettings(**{"host": "127.0.0.1", "port": port, "security": "none", "sender": "peacewatch@example.org",
                           "timeout": 10.0, **overrides})


def env_for(monkeypatch, port: int, **extra: str) -> None:
    for name in ("USER", "PASSWORD", "TIMEOUT"):
        monkeypatch.delenv(f"PEACEWATCH_SMTP_{name}", raising=False)
    monkeypatch.setenv("PEACEWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PEACEWATCH_SMTP_PORT", str(port))
    monkeypatch.setenv("PEACEWATCH_SMTP_SECURITY", "none")
    monkeypatch.setenv("PEACEWATCH_SMTP_FROM", "peacewatch <peacewatch@example.org>")
    monkeypatch.setenv("PEACEWATCH_DIGEST_TO", ", ".join(TO))
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def files_on_disk(report) -> set[str]:
    return {p.name for p in report.out_dir.iterdir()}


def test_the_digest_arrives_as_multipart_with_inline_charts(report, smtp_server, monkeypatch):
    handler, port = smtp_server()
    env_for(monkeypatch, port)
    result = send_digest(report)
    assert result.attempts == 1 and result.refused == {}

    (envelope,) = handler.envelopes
    assert envelope.mail_from == "peacewatch@example.org"
    assert envelope.rcpt_tos == ["analyst@example.org", "desk@example.net"]
    msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert msg["Subject"] == report.subject and "Russia on ceasefire first" in msg["Subject"]
    assert msg["To"] == "analyst@example.org, Desk <desk@example.net>"
    assert msg["Message-ID"] == result.message_id

    assert msg.get_content_type() == "multipart/alternative"
    text_part, related = msg.get_payload()
    assert text_part.get_content_type() == "text/plain"
    crlf = lambda text: text.replace("\r\n", "\n")  # noqa: E731 - SMTP lines end in CRLF
    assert crlf(text_part.get_content()) == report.text_path.read_text(encoding="utf-8")
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    page = crlf(html_part.get_content())

    # Every cid: reference resolves to an inline PNG part, and every PNG is referenced once.
    cids = re.findall(r'<img [^>]*src="cid:([^"]+)"', page)
    assert cids and not re.findall(r'<img [^>]*src="(?!cid:)', page)
    by_cid = {part["Content-ID"].strip().strip("<>"): part for part in images}  # long ids are folded
    assert sorted(by_cid) == sorted(set(cids))
    for part in images:
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        assert part.get_content() == (report.out_dir / part.get_filename()).read_bytes()
    assert {part.get_filename() for part in images} == {p.name for p in report.images}
    # The same HTML as on disk, apart from the image references.
    on_disk = report.html_path.read_text(encoding="utf-8")
    assert re.sub(r'src="[^"]+"', "", page) == re.sub(r'src="[^"]+"', "", on_disk)


def test_a_digest_folder_can_be_sent_again_later(report, smtp_server):
    handler, port = smtp_server()
    send_digest(report.out_dir, to=["later@example.org"], smtp=local(port))
    (envelope,) = handler.envelopes
    assert envelope.rcpt_tos == ["later@example.org"]
    assert b"Content-Type: multipart/related" in envelope.original_content


def test_refused_connections_are_retried_with_backoff_then_reported(report, caplog):
    port = free_port()  # nothing listens there
    before = files_on_disk(report)
    waits: list[float] = []
    with pytest.raises(DigestSendError) as failure:
        send_digest(report, to=TO, smtp=local(port), attempts=3, backoff_seconds=0.5, sleep=waits.append)
    assert waits == [0.5, 1.0]
    message = str(failure.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message and "after 3 attempts" in message and "ConnectionRefusedError" in message
    assert str(report.out_dir) in message
    assert files_on_disk(report) == before
    assert len([r for r in caplog.records if r.levelno == logging.WARNING and "retrying" in r.getMessage()]) == 2


def test_a_temporary_4xx_reply_is_retried_and_then_delivered(report, smtp_server):
    handler, port = smtp_server(replies=["451 4.3.0 Try again later"])
    waits: list[float] = []
    result = send_digest(report, to=TO, smtp=local(port), attempts=3, backoff_seconds=0.01, sleep=waits.append)
    assert result.attempts == 2 and waits == [0.01]
    assert handler.data_commands == 2 and len(handler.envelopes) == 1


def test_a_server_that_keeps_answering_4xx_is_reported_after_the_last_attempt(report, smtp_server):
    handler, port = smtp_server(replies=["421 4.7.0 Too busy"] * 5)
    with pytest.raises(DigestSendError, match=r"gave up after 3 attempts\): .*421 4\.7\.0 Too busy"):
        send_digest(report, to=TO, smtp=local(port), attempts=3, backoff_seconds=0.01, sleep=lambda s: None)
    assert handler.data_commands == 3 and handler.envelopes == []
    assert report.html_path.is_file()


def test_a_permanent_5xx_reply_is_not_retried(report, smtp_server):
    handler, port = smtp_server(replies=["554 5.6.0 Message rejected"] * 5)
    waits: list[float] = []
    with pytest.raises(DigestSendError, match=r"permanent failure after 1 attempt\): .*554 5\.6\.0 Message rejected"):
        send_digest(report, to=TO, smtp=local(port), attempts=3, backoff_seconds=0.01, sleep=waits.append)
    assert handler.data_commands == 1 and waits == []


def test_login_works_and_the_password_never_reaches_logs_or_errors(report, smtp_server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    handler, port = smtp_server(authenticator=check_password, auth_require_tls=False)
    env_for(monkeypatch, port, PEACEWATCH_SMTP_USER="digest", PEACEWATCH_SMTP_PASSWORD=PASSWORD)
    settings = send.smtp_settings()
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.describe()
    send_digest(report, attempts=1)
    assert len(handler.envelopes) == 1

    monkeypatch.setenv("PEACEWATCH_SMTP_PASSWORD", "wrong-" + PASSWORD)
    with pytest.raises(DigestSendError, match=r"permanent failure after 1 attempt\): SMTPAuthenticationError: 535") as failure:
        send_digest(report, attempts=3, backoff_seconds=0.01, sleep=lambda s: None)
    assert PASSWORD not in str(failure.value)
    assert PASSWORD not in caplog.text and "wrong-" not in caplog.text


def test_pipeline_renders_first_and_keeps_the_files_when_sending_fails(tmp_path, monkeypatch):
    data_dir = build_synthetic(tmp_path / "data")
    env_for(monkeypatch, free_port())
    monkeypatch.setattr(send, "DEFAULT_BACKOFF_SECONDS", 0.01)
    with pytest.raises(DigestSendError, match="the digest is on disk in"):
        pipeline.digest(data_dir, AS_OF, send=True)
    out = data_dir / "reports" / AS_OF.isoformat()
    assert {"digest.html", "digest.txt", "digest.md", "matrix.png"} <= {p.name for p in out.iterdir()}


def test_missing_settings_give_one_clear_error(report, monkeypatch):
    monkeypatch.delenv("PEACEWATCH_SMTP_HOST", raising=False)
    with pytest.raises(DigestSendError, match="PEACEWATCH_SMTP_HOST is not set") as failure:
        send_digest(report, to=TO)
    assert str(report.out_dir) in str(failure.value)
    monkeypatch.setenv("PEACEWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PEACEWATCH_SMTP_SECURITY", "tls-please")
    with pytest.raises(DigestSendError, match="ssl, starttls, none"):
        send_digest(report, to=TO)
    monkeypatch.setenv("PEACEWATCH_SMTP_SECURITY", "none")
    monkeypatch.setenv("PEACEWATCH_SMTP_FROM", "peacewatch@example.org")
    monkeypatch.delenv("PEACEWATCH_DIGEST_TO", raising=False)
    with pytest.raises(DigestSendError, match="no recipients"):
        send_digest(report)  # config/peacewatch.yaml ships with digest.recipients: []
    with pytest.raises(DigestSendError, match="invalid recipient"):
        send_digest(report, to=["ok@example.org", "evil@example.org\r\nBcc: x@example.org"])


def test_recipients_from_the_environment_override_the_config(monkeypatch):
    monkeypatch.setenv("PEACEWATCH_DIGEST_TO", "a@example.org; b@example.org,a@example.org")
    assert send.recipients() == ["a@example.org", "b@example.org"]
    assert send.recipients(["c@example.org"]) == ["c@example.org"]


def test_settings_from_an_airflow_connection(report, smtp_server, monkeypatch):
    handler, port = smtp_server()
    for name in ("HOST", "PORT", "SECURITY", "FROM"):
        monkeypatch.delenv(f"PEACEWATCH_SMTP_{name}", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_PEACEWATCH_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": "digest", "password": PASSWORD,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.org", "timeout": 10},
    }))
    settings = send.smtp_settings("peacewatch_smtp")
    assert (settings.host, settings.port, settings.security, settings.sender, settings.user) == (
        "127.0.0.1", port, "none", "airflow@example.org", "digest")
    assert "Airflow connection 'peacewatch_smtp'" in settings.describe()
    # No AUTH offered by this server and none attempted without a password: drop it for the send.
    monkeypatch.setenv("AIRFLOW_CONN_PEACEWATCH_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": "true", "disable_tls": "true", "from_email": "airflow@example.org"},
    }))
    send_digest(report, to=TO, conn_id="peacewatch_smtp", attempts=1)
    (envelope,) = handler.envelopes
    assert envelope.mail_from == "airflow@example.org"
    with pytest.raises(DigestSendError, match="Airflow connection 'no_such_conn'"):
        send_digest(report, to=TO, conn_id="no_such_conn", attempts=1)
    # Optional sending (the Airflow task): the connection if it exists, else the environment, else None.
    assert send.find_smtp_settings("peacewatch_smtp").origin == "Airflow connection 'peacewatch_smtp'"
    assert send.find_smtp_settings("no_such_conn") is None
    env_for(monkeypatch, port)
    assert send.find_smtp_settings("no_such_conn").origin == "environment"
