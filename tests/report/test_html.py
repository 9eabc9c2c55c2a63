"""The self-contained HTML report: every number of the tables as a cell, figures as PNG data URIs, escaping, the
per-class sensitivity, commands and versions, and the paper folder entry point."""

from __future__ import annotations

import base64
import re

import pytest

from ecg_art.exceptions import ConfigError
from ecg_art.report import environment_versions, markdown_to_html, report_from_paper_dir, tradeoff_figure, write_report

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _numbers(markdown: str) -> list[str]:
    return [c.strip() for line in markdown.splitlines() if line.startswith("|") for c in line.strip("|").split("|")
            if re.fullmatch(r"-?\d+(\.\d+)?", c.strip())]


def test_paper_report_holds_every_number_and_its_figures(paper_dir):
    path = report_from_paper_dir(paper_dir)
    assert path == paper_dir / "report.html"
    html = path.read_text(encoding="utf-8")
    numbers = _numbers((paper_dir / "table.md").read_text())
    assert len(numbers) > 40 and "86.04" in numbers and "95.31" in numbers
    assert all(f'<td class="num">{n}</td>' in html for n in numbers)
    assert "<th>AUC adaptive (worst attack)</th>" in html and "<p>Detector (held-out test split; AUC and rates in %):</p>" in html
    pngs = IMG.findall(html)
    assert len(pngs) == 3 and all(base64.b64decode(p).startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", html)
    assert [c.split()[0] for c in captions] == ["Clean", "Worst-case", "Adversarial"]
    assert "at-nsr" in captions[2]
    assert (paper_dir / "tradeoff.png").is_file() and (paper_dir / "robust_accuracy_vs_eps.png").is_file()
    assert "ecg-art run paper --profile quick --seed 0 --set split=intra" in html and "12.6 min" in html


def test_report_is_self_contained_and_escaped(paper_dir):
    html = report_from_paper_dir(paper_dir).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    assert "fusion &lt;ctx&gt;" in html and "<ctx>" not in html


def test_sensitivity_section_versions_and_timestamp(paper_rows, tmp_path):
    versions = environment_versions()
    assert set(versions) == {"torch", "art", "torchattacks", "mlflow", "numpy", "python"}
    html = write_report(tmp_path, title="T & co", tables_markdown="", rows=paper_rows, commands=["a <b>", "c"],
                        versions=versions).read_text()
    section = html[html.index("<h2>Per-class sensitivity</h2>"):html.index("<h2>Commands</h2>")]
    assert "<th>Q</th>" in section and section.count("<tr><td>") == 3 and "detector" not in section
    assert '<td class="num">99.10</td>' in section and '<td class="num">25.00</td>' in section
    assert '<td class="num">-</td>' in section  # NaN sensitivity of Q
    assert "<pre>a &lt;b&gt;\nc</pre>" in html and "<title>T &amp; co</title>" in html
    assert f"<td>numpy</td><td>{versions['numpy']}</td>" in html
    assert re.search(r"Generated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", html)


def test_figure_files_and_figures_are_embedded(paper_rows, tmp_path):
    png = tmp_path / "fig.png"
    tradeoff_figure(paper_rows).savefig(png)
    html = write_report(tmp_path / "out", title="t", tables_markdown="x", figures={
        "from file": png, "from figure": tradeoff_figure(paper_rows)}, versions={}).read_text()
    assert len(IMG.findall(html)) == 2 and base64.b64decode(IMG.findall(html)[0]) == png.read_bytes()
    assert "<figcaption>from figure</figcaption>" in html


def test_markdown_headings_paragraphs_and_escaped_pipes():
    html = markdown_to_html("# Runs of `x`\n\nsome text\nmore text\n| run | a\\|b |\n|---|---|\n| r1 | 0.5 |\n"
                            "| r2 | - |\nafter")
    assert html.splitlines()[:2] == ["<h2>Runs of `x`</h2>", "<p>some text more text</p>"]
    assert "<th>a|b</th>" in html and '<td class="num">0.5</td>' in html and "<td>-</td>" in html
    assert html.endswith("</table>\n<p>after</p>") and html.count("<tr>") == 3


@pytest.mark.parametrize("kwargs, needle", [
    ({"title": " "}, "title"),
    ({"figures": {"x": "missing.png"}}, "figures"),
    ({"commands": "ecg-art run paper"}, "commands"),
])
def test_bad_arguments_name_the_parameter(tmp_path, kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        write_report(tmp_path, **{"title": "t", "tables_markdown": "", **kwargs})


def test_paper_dir_without_tables(tmp_path):
    with pytest.raises(ConfigError, match="table.md"):
        report_from_paper_dir(tmp_path)
