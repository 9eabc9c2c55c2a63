"""The report as headless Chromium renders it: every table cell and the decoded trade-off image are in the DOM.
Skipped where no ``chromium`` / ``chromium-browser`` binary is on PATH."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from ecg_art.report import report_from_paper_dir

pytestmark = pytest.mark.browser

# Appended to a copy of the report (the report itself has no script): record each image's decoded size on load.
PROBE = ("<script>addEventListener('load', () => document.body.setAttribute('data-images', [...document.images]"
         ".map(i => i.naturalWidth + 'x' + i.naturalHeight).join(',')))</script>")


class _Dom(HTMLParser):
    """Cell texts, image sources and body attributes of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.images: list[str] = []
        self.body: dict[str, str] = {}
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        elif tag == "body":
            self.body = {k: v or "" for k, v in attrs}

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None


def _chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("no chromium or chromium-browser binary on PATH")
    return binary


def _render(binary: str, page, profile) -> _Dom:
    out = subprocess.run([binary, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = _Dom()
    dom.feed(out.stdout)
    return dom


def test_chromium_renders_every_cell_and_the_image(paper_dir, tmp_path):
    binary = _chromium()
    report = report_from_paper_dir(paper_dir)
    probe = report.with_name("probe.html")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _render(binary, probe, tmp_path / "profile")
    lines = [line for line in (paper_dir / "table.md").read_text().splitlines()
             if line.startswith("|") and not line.startswith("|---")]
    cells = [c.strip() for line in lines for c in line.strip().strip("|").split("|")]
    assert len(cells) > 60
    rendered = set(dom.cells)
    assert [c for c in cells if c not in rendered] == []
    assert "fusion <ctx>" in rendered and {"N", "S", "V", "F", "Q", "torch", "numpy"} <= rendered
    assert len(dom.images) == 3 and all(i.startswith("data:image/png;base64,iVBOR") for i in dom.images)
    sizes = [tuple(map(int, size.split("x"))) for size in dom.body["data-images"].split(",")]
    assert len(sizes) == 3 and all(w > 150 and h > 80 for w, h in sizes)  # every PNG decoded in the browser

