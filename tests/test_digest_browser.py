"""The digest HTML in a real browser: headless Debian Chromium, started by the test.

--dump-dom gives the DOM after loading (the key sections render; no script element exists, and the
title planted in an article, <script>document.title='pwned'</script>, did not run); --screenshot at
600 and 1280 px gives PNGs that must have the right width, not be blank, and show the charts. A
control page with a real script proves that scripts do run in this browser, so their absence in the
digest is meaningful.

Chromium comes from Debian's package (`apt-get install chromium`; `make test` installs it). When it is
missing, the session tries that install (as root with apt-get) and skips only if it fails.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peacewatch import pipeline
from peacewatch.digest.render import render_digest
from test_digest import AS_OF, build_synthetic

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--disable-extensions", "--mute-audio",
]
WIDTHS = (600, 1280)
HEIGHT = 2000
RUSSIA_LINE = (0xD5, 0x5E, 0x00)  # the moved actor's colour in the stance chart (charts.ACTOR_COLORS)


def _install_chromium() -> str:
    """Debian's chromium via apt-get, when we are root; returns why not, or ''."""
    if os.environ.get("PEACEWATCH_NO_CHROMIUM_INSTALL"):
        return "PEACEWATCH_NO_CHROMIUM_INSTALL is set"
    if not shutil.which("apt-get"):
        return "apt-get is not available"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not root, cannot apt-get install"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
        except subprocess.TimeoutExpired:
            return f"{' '.join(command)} timed out"
        if result.returncode != 0:
            return f"{' '.join(command)} failed: {result.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
    if found:
        return found
    why = _install_chromium()
    found = shutil.which("chromium")
    if not found:
        pytest.skip(f"chromium is missing and could not be installed ({why or 'not found after install'}); "
                    "install it with: apt-get install -y chromium")
    return found


def run_chromium(chromium: str, profile: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    return result


class Outline(HTMLParser):
    """Headings, title, and the tags that could run code."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.title = ""
        self.scripts = 0
        self.handlers: list[str] = []
        self.images: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        if tag in ("h2", "title"):
            self._in = tag
            if tag == "h2":
                self.headings.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "h2":
            self.headings[-1] += data
        elif self._in == "title":
            self.title += data


@pytest.fixture(scope="module")
def digest_page(tmp_path_factory) -> tuple[Path, str]:
    data_dir = build_synthetic(tmp_path_factory.mktemp("browser") / "data")
    report = render_digest(pipeline.db_path(data_dir), AS_OF, None, tmp_path_factory.mktemp("reports"))
    source = report.html_path.read_text(encoding="utf-8")
    assert "document.title=&#39;pwned&#39;" in source  # the planted title is in the page, as text
    return report.html_path, report.subject


@pytest.mark.parametrize("width", WIDTHS)
def test_sections_render_and_no_script_runs(chromium, digest_page, tmp_path, width):
    page, subject = digest_page
    dom = run_chromium(chromium, tmp_path / "profile", page, f"--window-size={width},{HEIGHT}",
                       "--virtual-time-budget=3000", "--dump-dom").stdout
    outline = Outline()
    outline.feed(dom)
    assert outline.title == subject, f"the page title changed to {outline.title!r}: a script ran"
    assert "pwned" not in outline.title
    assert outline.scripts == 0 and "<script" not in dom.lower()
    assert outline.handlers == []  # no onerror= etc. attributes became real
    headings = [" ".join(h.split()) for h in outline.headings]
    for expected in ("What moved", "Top stories", "Actor × position", "New statements", "Coverage and health", "Method"):
        assert expected in headings, f"{expected!r} not among the rendered headings {headings}"
    assert headings.index("What moved") == 0 and headings[-1] == "Method"
    # The planted HTML shows as text, in the DOM's text.
    assert "document.title='pwned'" in html.unescape(dom)
    assert all(src.endswith(".png") for src in outline.images) and len(outline.images) >= 2


def test_control_page_shows_that_scripts_do_run(chromium, tmp_path):
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><html><head><title>before</title></head><body><p>x</p>"
                       "<script>document.title='pwned'</script></body></html>", encoding="utf-8")
    dom = run_chromium(chromium, tmp_path / "profile", control, "--virtual-time-budget=3000", "--dump-dom").stdout
    outline = Outline()
    outline.feed(dom)
    assert outline.title == "pwned", "scripts did not run in the control page: the no-script check proves nothing"


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots_are_the_right_width_and_show_the_digest(chromium, digest_page, tmp_path, width):
    page, _subject = digest_page
    shot = tmp_path / f"digest-{width}.png"
    run_chromium(chromium, tmp_path / "profile", page, f"--window-size={width},{HEIGHT}", f"--screenshot={shot}")
    image = Image.open(shot).convert("RGB")
    assert image.size == (width, HEIGHT)
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    # Not blank: many colours (text, the dark header, the chart) and a good share of non-background pixels.
    packed = (pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]
    colours, counts = np.unique(packed, return_counts=True)
    assert len(colours) > 200
    assert (packed != colours[counts.argmax()]).mean() > 0.2
    # The dark header bar spans the page near the top.
    header = image.getpixel((width // 2, 30))
    assert sum(header) < 3 * 60, f"no dark header at the top: {header}"
    # The stance chart of the planted shift loaded (its moved actor's line colour appears).
    near = (np.abs(pixels - np.array(RUSSIA_LINE)) <= 12).all(axis=1).sum()
    assert near > 100, "the chart image under What moved did not load"
    # Nothing is cut off at the right edge: the last column is page background, not content.
    right = {image.getpixel((width - 1, y)) for y in range(0, HEIGHT, 5)}
    assert len(right) <= 2, "content reaches the right edge (horizontal overflow)"
    # Keep a copy for people to look at (pytest's tmp dir is kept for the last runs).
    shutil.copy(shot, tmp_path.parent / f"digest-{width}.png")
