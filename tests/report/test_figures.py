"""The clean vs worst-case trade-off figure: one point per model, the fusion's adaptive worst case, bad input."""

from __future__ import annotations

import pytest

from ecg_art.exceptions import ConfigError
from ecg_art.report import tradeoff_figure, tradeoff_points


def test_points_take_the_smaller_of_worst_and_adaptive_and_skip_the_detector(paper_rows):
    points, eps = tradeoff_points(paper_rows)
    assert eps == 0.05
    assert [p[0] for p in points] == ["baseline", "at-nsr", "fusion <ctx>"]
    by = {name: (clean, worst) for name, clean, worst in points}
    assert by["fusion <ctx>"] == (pytest.approx(0.9688), pytest.approx(0.5522))  # adaptive < worst
    assert by["at-nsr"] == (pytest.approx(0.9655), pytest.approx(0.8604))
    assert all(worst <= clean for _, clean, worst in points)


def test_adaptive_only_row_and_largest_eps_by_default():
    rows = [{"model": "a", "clean": 0.9, "worst@0.01": 0.8, "worst@0.1": 0.3},
            {"model": "f", "clean": 0.95, "adaptive@0.1": 0.4}]
    points, eps = tradeoff_points(rows)
    assert eps == 0.1 and points == [("a", 0.9, 0.3), ("f", 0.95, 0.4)]
    assert tradeoff_points(rows, eps=0.01)[0] == [("a", 0.9, 0.8)]


def test_figure_has_one_labelled_point_per_model_in_percent(paper_rows):
    fig = tradeoff_figure(paper_rows)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["baseline", "at-nsr", "fusion <ctx>"]
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (3, 2) and offsets[2][1] == pytest.approx(55.22)
    assert "0.05" in ax.get_ylabel() and "clean" in ax.get_xlabel()


@pytest.mark.parametrize("rows, kwargs, needle", [
    ([{"model": "d", "detector_auc": 0.9}], {}, "worst@"),
    ([{"model": "a", "worst@0.05": 0.5}], {}, "clean"),
    ([{"model": "a", "clean": 0.9, "worst@0.05": 0.5}], {"eps": -1}, "eps"),
])
def test_bad_rows_name_the_problem(rows, kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        tradeoff_figure(rows, **kwargs)


def test_eps_curve_has_one_line_per_model_with_a_curve(paper_rows):
    from ecg_art.report import eps_curve_figure

    ax = eps_curve_figure(paper_rows).axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["baseline (n=100)", "at-nsr (n=100)"]  # fusion row: no curve
    assert list(lines[1].get_xdata()) == [0.0, 0.01, 0.05, 0.1]
    assert list(lines[1].get_ydata()) == pytest.approx([96.0, 93.0, 86.0, 51.0])
    with pytest.raises(ConfigError, match="curve"):
        eps_curve_figure([{"model": "d", "detector_auc": 0.9}])
    with pytest.raises(ConfigError, match="equal-length"):
        eps_curve_figure([{"model": "a", "curve": {"eps": [0, 0.1], "worst": [0.9]}}])
