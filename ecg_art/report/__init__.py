"""Reports of a study: the clean vs worst-case trade-off figure and one self-contained HTML page of the results."""

from ecg_art.report.figures import tradeoff_figure, tradeoff_points
from ecg_art.report.html import environment_versions, markdown_to_html, report_from_paper_dir, write_report

__all__ = ["tradeoff_figure", "tradeoff_points", "environment_versions", "markdown_to_html", "report_from_paper_dir",
           "write_report"]
