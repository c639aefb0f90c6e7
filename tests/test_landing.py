import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from peacewatch.contracts import CrawledItem, SourceStats, content_hash
from peacewatch.landing import RunWriter, complete_runs, sha256_file, store_raw_html


def make_item(data_dir: Path, n: int = 1, source: str = "s1") -> CrawledItem:
    body = f"Body number {n}. " * 20
    return CrawledItem(
        url=f"https://example.org/a/{n}", canonical_url=f"https://example.org/a/{n}", source_id=source,
        title=f"Title {n}", authors=["A. Writer"], published_at=datetime(2025, 3, 1, 12, tzinfo=timezone.utc),
        language="en", body=body, raw_html_path=store_raw_html(data_dir, source, f"https://example.org/a/{n}", b"<html/>"),
        fetched_at=datetime.now(timezone.utc), http_status=200, content_hash=content_hash(body),
    )


def test_run_is_invisible_until_published(tmp_path: Path):
    writer = RunWriter(tmp_path)
    writer.add(make_item(tmp_path, 1))
    writer.add(make_item(tmp_path, 2, source="s2"))
    assert list(complete_runs(tmp_path)) == []
    assert not list(writer.run_dir.glob("items-*.jsonl"))

    manifest = writer.publish([SourceStats(source_id="s1", items=1), SourceStats(source_id="s2", items=1)])
    runs = list(complete_runs(tmp_path))
    assert [m.run_id for _, m in runs] == [manifest.run_id]
    for listed in manifest.files:
        path = writer.run_dir / listed.name
        assert sha256_file(path) == listed.sha256 and listed.rows == 1
        assert CrawledItem.model_validate(json.loads(path.read_text()))
    assert not list(writer.run_dir.glob("*.tmp"))


def test_raw_html_is_kept_gzipped(tmp_path: Path):
    relative = store_raw_html(tmp_path, "s1", "https://example.org/x", b"<html><p>hi</p></html>")
    assert gzip.decompress((tmp_path / relative).read_bytes()) == b"<html><p>hi</p></html>"


def test_contract_rejects_naive_timestamps_and_bad_hashes(tmp_path: Path):
    item = make_item(tmp_path).model_dump()
    with pytest.raises(ValidationError, match="timezone"):
        CrawledItem.model_validate({**item, "published_at": "2025-03-01T12:00:00"})
    with pytest.raises(ValidationError):
        CrawledItem.model_validate({**item, "content_hash": "abc"})
    with pytest.raises(ValidationError):
        CrawledItem.model_validate({**item, "url": "ftp://example.org/x"})


def test_content_hash_ignores_whitespace_only():
    assert content_hash("a  b\n\nc") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b d")
