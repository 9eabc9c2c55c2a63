"""Reports of a study: the trade-off and robust-accuracy-vs-eps figures and one self-contained HTML page of the
results."""

from ecg_art.report.figures import eps_curve_figure, tradeoff_figure, tradeoff_points
from ecg_art.report.html import environment_versions, markdown_to_html, report_from_paper_dir, write_report

__all__ = ["eps_curve_figure", "tradeoff_figure", "tradeoff_points", "environment_versions", "markdown_to_html",
           "report_from_paper_dir", "write_report"]
