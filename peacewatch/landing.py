"""The landing zone: where crawl runs leave their output for the loader.

    <data>/landing/<run_id>/items-<source_id>.jsonl   one CrawledItem per line
    <data>/landing/<run_id>/manifest.json             written last; lists files, checksums, stats
    <data>/raw/<source_id>/<xx>/<sha>.html.gz          raw HTML, kept for re-extraction

Every file appears atomically (written to a temporary name, fsynced, renamed), and the manifest appears
only after all data files of the run are in place, so the loader never sees a partial run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from peacewatch.contracts import CrawledItem, LandingFile, RunManifest, SourceStats

MANIFEST = "manifest.json"
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; published files get the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_raw_html(data_dir: Path, source_id: str, url: str, body: bytes) -> str:
    """Keep the raw page gzipped; returns its path relative to the data dir."""
    digest = hashlib.sha256(url.encode("utf-8") + b"\0" + body).hexdigest()
    relative = Path("raw") / source_id / digest[:2] / f"{digest}.html.gz"
    target = data_dir / relative
    if not target.exists():
        write_atomic(target, gzip.compress(body, mtime=0))
    return relative.as_posix()


class RunWriter:
    """Collects the items of one crawl run and publishes them atomically with a manifest."""

    def __init__(self, data_dir: Path, run_id: str | None = None):
        self.started_at = datetime.now(timezone.utc)
        self.run_id = run_id or new_run_id(self.started_at)
        self.run_dir = Path(data_dir) / "landing" / self.run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._handles: dict[str, object] = {}

    def _tmp_path(self, source_id: str) -> Path:
        return self.run_dir / f".items-{source_id}.jsonl.tmp"

    def add(self, item: CrawledItem) -> None:
        handle = self._handles.get(item.source_id)
        if handle is None:
            handle = self._handles[item.source_id] = self._tmp_path(item.source_id).open("w", encoding="utf-8")
        handle.write(item.model_dump_json() + "\n")

    def publish(self, stats: list[SourceStats]) -> RunManifest:
        """Rename every data file into place, then write the manifest (the run's commit point)."""
        files = []
        for source_id, handle in sorted(self._handles.items()):
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            final = self.run_dir / f"items-{source_id}.jsonl"
            os.replace(self._tmp_path(source_id), final)
            rows = sum(1 for _ in final.open("rb"))
            files.append(LandingFile(name=final.name, sha256=sha256_file(final), rows=rows))
        self._handles.clear()
        manifest = RunManifest(
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=datetime.now(timezone.utc),
            files=files,
            sources=stats,
        )
        write_atomic(self.run_dir / MANIFEST, manifest.model_dump_json(indent=2).encode("utf-8"))
        return manifest


def complete_runs(data_dir: Path) -> Iterator[tuple[Path, RunManifest]]:
    """Runs whose manifest is in place, oldest first; runs still being written are invisible."""
    landing = Path(data_dir) / "landing"
    if not landing.is_dir():
        return
    for run_dir in sorted(p for p in landing.iterdir() if p.is_dir()):
        manifest_path = run_dir / MANIFEST
        if manifest_path.is_file():
            yield run_dir, RunManifest.model_validate_json(manifest_path.read_bytes())


def read_items(path: Path) -> Iterator[tuple[int, dict | None, str]]:
    """Yield (line number, parsed JSON object or None, raw line) for each line of a landing file."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            yield number, record if isinstance(record, dict) else None, line
