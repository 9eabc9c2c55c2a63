"""One self-contained HTML report of a study: its tables, figures (inline PNG), per-class sensitivity, commands and
package versions; nothing is fetched when it is opened."""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import platform
from datetime import datetime, timezone
from html import escape
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Sequence

from ecg_art.exceptions import ConfigError

__all__ = ["write_report", "report_from_paper_dir", "markdown_to_html", "environment_versions", "PACKAGES"]

logger = logging.getLogger(__name__)

#: Report label -> distribution name of the packages whose versions a report lists.
PACKAGES = {"torch": "torch", "art": "adversarial-robustness-toolbox", "torchattacks": "torchattacks",
            "mlflow": "mlflow", "numpy": "numpy"}
SENS_CLASSES = ("N", "S", "V", "F", "Q")
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_STYLE = """body{font-family:system-ui,sans-serif;max-width:75em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}figure{margin:1em 0}figcaption{color:#555}"""


def environment_versions() -> dict[str, str]:
    """Versions of torch, ART, torchattacks, MLflow, NumPy (``"not installed"`` when absent) and Python.

    Examples
    --------
    >>> sorted(environment_versions())
    ['art', 'mlflow', 'numpy', 'python', 'torch', 'torchattacks']
    """
    out = {}
    for label, dist in PACKAGES.items():
        try:
            out[label] = version(dist)
        except PackageNotFoundError:
            out[label] = "not installed"
    out["python"] = platform.python_version()
    return out


def _cells(line: str) -> list[str]:
    """Cells of one pipe-table line; ``\\|`` is a literal pipe."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\0", "|") for c in inner.replace("\\|", "\0").split("|")]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table(lines: list[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in _cells(lines[0]))
    sep = len(lines) > 1 and "---" in lines[1] and set(lines[1]) <= set("|-: ")
    body = lines[2:] if sep else lines[1:]
    rows = "".join("<tr>" + "".join(f'<td class="num">{escape(c)}</td>' if _is_number(c) else f"<td>{escape(c)}</td>"
                                    for c in _cells(line)) + "</tr>\n" for line in body)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"


def markdown_to_html(text: str) -> str:
    """HTML of the pipe tables (header, separator, body rows; as ``recipes.common.format_table`` writes them), ``#``
    headings and plain paragraphs of ``text``; everything is escaped.

    Examples
    --------
    >>> print(markdown_to_html("Models:\\n| Model | Clean |\\n|---|---|\\n| a<b | 97.10 |"))
    <p>Models:</p>
    <table>
    <thead><tr><th>Model</th><th>Clean</th></tr></thead>
    <tbody>
    <tr><td>a&lt;b</td><td class="num">97.10</td></tr>
    </tbody>
    </table>
    """
    blocks: list[str] = []
    para: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if para:
            blocks.append(f"<p>{escape(' '.join(para))}</p>")
            para.clear()
        if table:
            blocks.append(_table(table))
            table.clear()

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|"):
            if para:
                flush()
            table.append(s)
            continue
        if table or not s:
            flush()
        if s.startswith("#"):
            level = min(len(s) - len(s.lstrip("#")) + 1, 6)
            blocks.append(f"<h{level}>{escape(s.lstrip('#').strip())}</h{level}>")
        elif s:
            para.append(s)
    flush()
    return "\n".join(blocks)


def _image(fig: Any) -> tuple[str, bytes]:
    if callable(getattr(fig, "savefig", None)):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120)
        return "image/png", buf.getvalue()
    path = Path(fig)
    if path.suffix.lower() not in _MIME or not path.is_file():
        raise ConfigError(f"`figures` values must be matplotlib Figures or existing .png/.jpg files, got {fig!r}")
    return _MIME[path.suffix.lower()], path.read_bytes()


def _pct(v: Any) -> str:
    return f"{100 * v:.2f}" if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def _sensitivity(rows: Sequence[dict[str, Any]]) -> str:
    rows = [r for r in rows if isinstance(r.get("sens"), dict)]
    if not rows:
        return ""
    head = "".join(f"<th>{c}</th>" for c in ("Model", *SENS_CLASSES))
    body = "".join(f"<tr><td>{escape(str(r.get('model', '?')))}</td>"
                   + "".join(f'<td class="num">{_pct(r["sens"].get(c))}</td>' for c in SENS_CLASSES) + "</tr>\n"
                   for r in rows)
    return ("<h2>Per-class sensitivity</h2>\n<p>Clean test split, AAMI classes, %.</p>\n"
            f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>")


def write_report(out_dir: str | Path, *, title: str, tables_markdown: str, rows: Sequence[dict[str, Any]] = (),
                 figures: dict[str, Any] | None = None, commands: Sequence[str] = (),
                 versions: dict[str, str] | None = None) -> Path:
    """Write ``out_dir/report.html``, a single file with no external resource, and return its path.

    Parameters
    ----------
    out_dir : str or Path
        Folder of the report (created if missing).
    title : str
        Page title and heading.
    tables_markdown : str
        Pipe tables and paragraphs (e.g. the paper job's ``table.md``), converted by :func:`markdown_to_html`.
    rows : sequence of dict
        Table rows; those with a ``sens`` dict (``{"N": .., "S": .., ...}``, fractions) make a per-class table.
    figures : dict, optional
        Caption -> matplotlib Figure or path of a ``.png`` / ``.jpg``; embedded as base64 data URIs.
    commands : sequence of str
        Commands that produced the results.
    versions : dict, optional
        Package -> version (default: :func:`environment_versions`).

    Examples
    --------
    >>> import tempfile
    >>> path = write_report(tempfile.mkdtemp(), title="demo", tables_markdown="| a |\\n|---|\\n| 1 |")
    >>> "<td class=\\"num\\">1</td>" in path.read_text()
    True
    """
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(f"`title` must be a non-empty string, got {title!r}")
    if not isinstance(tables_markdown, str):
        raise ConfigError(f"`tables_markdown` must be a str, got {type(tables_markdown).__name__}")
    if isinstance(commands, str):
        raise ConfigError("`commands` must be a list of strings, not one string")
    parts = [f"<h1>{escape(title)}</h1>",
             f"<p>Generated {escape(datetime.now(timezone.utc).isoformat(timespec='seconds'))}.</p>",
             "<h2>Results</h2>", markdown_to_html(tables_markdown)]
    if figures:
        parts.append("<h2>Figures</h2>")
        for caption, fig in figures.items():
            mime, data = _image(fig)
            parts.append(f'<figure><img src="data:{mime};base64,{base64.b64encode(data).decode("ascii")}" '
                         f'alt="{escape(caption)}"><figcaption>{escape(caption)}</figcaption></figure>')
    parts.append(_sensitivity(rows))
    if commands:
        parts.append("<h2>Commands</h2>\n<pre>" + escape("\n".join(commands)) + "</pre>")
    items = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(str(v))}</td></tr>"
                    for k, v in (versions if versions is not None else environment_versions()).items())
    parts.append(f"<h2>Environment</h2>\n<table><thead><tr><th>package</th><th>version</th></tr></thead>"
                 f"<tbody>{items}</tbody></table>")
    html = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n" + "\n".join(p for p in parts if p) + "\n</body>\n</html>\n")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    logger.info("report written to %s", path)
    return path


#: Files of the paper folder: the report's figures, and the adversarial-beat figure of each stage (``<prefix><stage>``).
TRADEOFF_FILE, EPS_CURVE_FILE = "tradeoff.png", "robust_accuracy_vs_eps.png"
ADVERSARIAL_BEATS_PREFIX = "adversarial_beats-"
#: Figures of the paper job's analysis stages, copied beside its table under these names: (file, caption).
ANALYSIS_FIGURES = {
    "noise": ("noise_robustness.png", "Accuracy and macro-F1 vs SNR (NSTDB definition) of real ECG noise (baseline "
                                      "wander bw, muscle artifact ma; test half of each record) and white Gaussian "
                                      "noise; dotted: clean"),
    "certify": ("certified_accuracy.png", "Certified accuracy vs L2 radius (beat unit) of randomized smoothing "
                                          "(Cohen et al. 2019); 0.8 = the L2 ball holding the Linf eps-0.05 ball"),
}


def report_from_paper_dir(paper_dir: str | Path, *, title: str | None = None,
                          commands: Sequence[str] | None = None) -> Path:
    """Build ``paper_dir/report.html`` from the paper job's ``table.md`` and ``table.json``: the tables, the trade-off
    and robust-accuracy-vs-eps figures (also saved as PNG beside them), each stage's adversarial-beat figure
    (``adversarial_beats-<stage>.png``, copied there by the paper job), the noise and certified-accuracy figures
    (:data:`ANALYSIS_FIGURES`, when those stages ran) and the per-class sensitivities.

    ``commands`` defaults to the ``ecg-art run paper`` line of the config in ``table.json``.

    Examples
    --------
    >>> report_from_paper_dir("results/paper-quick-intra-s0")  # doctest: +SKIP
    PosixPath('results/paper-quick-intra-s0/report.html')
    """
    from ecg_art.report.figures import eps_curve_figure, tradeoff_figure

    paper_dir = Path(paper_dir)
    files = {name: paper_dir / name for name in ("table.md", "table.json")}
    if absent := [str(p) for p in files.values() if not p.is_file()]:
        raise ConfigError(f"`paper_dir` {str(paper_dir)!r} lacks {', '.join(absent)} (written by `ecg-art run paper`)")
    data = json.loads(files["table.json"].read_text(encoding="utf-8"))
    rows, cfg = data.get("rows") or [], data.get("config") or {}
    text = files["table.md"].read_text(encoding="utf-8")
    if isinstance(data.get("seconds"), (int, float)):
        text += f"\n\nRun time: {data['seconds'] / 60:.1f} min."
    figures: dict[str, Any] = {}
    drawn = (("Clean accuracy vs worst-case robust accuracy (fusion: the smaller of worst case and adaptive)",
              tradeoff_figure, TRADEOFF_FILE),
             ("Worst-case robust accuracy vs eps, over every attack of each model's table but the standard AutoAttack "
              "(fusion: its hard and BPDA attacks, threat model a), on each model's first n attacked test beats",
              eps_curve_figure, EPS_CURVE_FILE))
    for caption, draw, name in drawn:
        try:
            fig = draw(rows)
        except ConfigError as exc:
            logger.info("no figure %s: %s", name, exc)
            continue
        fig.savefig(paper_dir / name, dpi=120)
        figures[caption] = paper_dir / name
    order = {str(r.get("model")): i for i, r in enumerate(rows)}
    beats = sorted(paper_dir.glob(f"{ADVERSARIAL_BEATS_PREFIX}*.png"),
                   key=lambda p: (order.get(p.stem.removeprefix(ADVERSARIAL_BEATS_PREFIX), len(order)), p.name))
    for path in beats:
        figures[f"Adversarial examples: {path.stem.removeprefix(ADVERSARIAL_BEATS_PREFIX)}, one attacked test beat "
                f"(top) and each attack's perturbation (bottom)"] = path
    for name, caption in ANALYSIS_FIGURES.values():
        if (paper_dir / name).is_file():
            figures[caption] = paper_dir / name
    if commands is None:
        commands = [f"ecg-art run paper --profile {cfg.get('profile', 'quick')} --seed {cfg.get('seed', 0)} "
                    f"--set split={cfg.get('split', 'intra')}"]
    title = title or (f"ecg_art study: {cfg.get('profile', '?')} profile, {cfg.get('split', '?')} split, "
                      f"seed {cfg.get('seed', '?')}")
    return write_report(paper_dir, title=title, tables_markdown=text, rows=rows, figures=figures,
                        commands=list(commands), versions=environment_versions())
