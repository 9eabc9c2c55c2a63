"""Evaluation figures: right number of axes, PNG output, no pyplot state, clear errors."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pytest
from matplotlib.figure import Figure

from ecg_art.evaluation import (
    adversarial_beats_figure,
    classification_metrics,
    confusion_matrix_figure,
    robustness_curve_figure,
    training_curves_figure,
)
from ecg_art.exceptions import ConfigError

PNG_MAGIC = b"\x89PNG"


def _saved(fig: Figure, path) -> bytes:
    fig.savefig(path)
    return path.read_bytes()[:4]


@pytest.fixture
def beat():
    t = np.linspace(0, 1, 256)
    return (0.5 + 0.4 * np.exp(-((t - 0.5) ** 2) / 0.002)).astype(np.float32)[None, None]


def test_confusion_matrix(tmp_path):
    m = classification_metrics([0, 0, 1, 2, 3, 4, 4], [0, 1, 1, 2, 3, 4, 0])
    fig = confusion_matrix_figure(m.confusion, ["N", "S", "V", "F", "Q"], title="test")
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # matrix + colour bar
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 25 and texts[0].startswith("1\n50.0%")
    assert _saved(fig, tmp_path / "cm.png") == PNG_MAGIC
    counts = confusion_matrix_figure([[3, 1], [0, 2]], ["a", "b"], normalize=False)
    assert [t.get_text() for t in counts.axes[0].texts] == ["3", "1", "0", "2"]


def test_confusion_matrix_shape_error():
    with pytest.raises(ConfigError, match="3x3"):
        confusion_matrix_figure(np.eye(2), ["N", "S", "V"])


def test_adversarial_beats(tmp_path, beat):
    rng = np.random.default_rng(0)
    adv = {"FGSM": beat + 0.02 * np.sign(rng.standard_normal(beat.shape)), "PGD": beat + 0.01, "SAP": beat[0, 0] - 0.01}
    fig = adversarial_beats_figure(beat, adv, fs=360, title="beat 17")
    assert len(fig.axes) == 2 * len(adv)
    top_titles = [ax.get_title() for ax in fig.axes[:3]]
    assert top_titles[0].startswith("FGSM") and "L∞=0.02" in top_titles[0] and "dB" in top_titles[0]
    t_ms = fig.axes[0].lines[0].get_xdata()
    assert t_ms[-1] == pytest.approx(255 * 1000 / 360)
    assert np.allclose(fig.axes[4].lines[0].get_ydata(), 0.01, atol=1e-6)  # PGD perturbation row
    assert _saved(fig, tmp_path / "beats.png") == PNG_MAGIC


def test_adversarial_beats_errors(beat):
    with pytest.raises(ConfigError, match="adv"):
        adversarial_beats_figure(beat, {})
    with pytest.raises(ConfigError, match="'PGD'"):
        adversarial_beats_figure(beat, {"PGD": beat[..., :100]})
    with pytest.raises(ConfigError, match="x_clean"):
        adversarial_beats_figure(np.zeros((2, 1, 10)), {"PGD": np.zeros(10)})


@dataclass(frozen=True)
class Result:
    attack: str
    eps: float
    adv_accuracy: float
    clean_accuracy: float = 0.95


def test_robustness_curve(tmp_path):
    rows = [Result("fgsm", e, 0.9 - 4 * e) for e in (0.05, 0.01, 0.1)]
    rows += [{"attack": "pgd", "eps": e, "adv_accuracy": 0.9 - 6 * e} for e in (0.01, 0.05, 0.1)]
    fig = robustness_curve_figure(rows, title="robustness")
    assert len(fig.axes) == 1
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines}
    assert set(lines) == {"fgsm", "pgd", "clean"}
    assert list(lines["fgsm"].get_xdata()) == [0.01, 0.05, 0.1]  # sorted by eps
    assert np.all(np.diff(lines["pgd"].get_ydata()) < 0)
    assert _saved(fig, tmp_path / "curve.png") == PNG_MAGIC


def test_robustness_curve_errors():
    with pytest.raises(ConfigError, match="empty"):
        robustness_curve_figure([])
    with pytest.raises(ConfigError, match="adv_accuracy"):
        robustness_curve_figure([{"attack": "fgsm", "eps": 0.1}])


def test_training_curves(tmp_path):
    history = {"train_loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7], "val_accuracy": [0.5, 0.7, 0.8],
               "best_epoch": 3}
    fig = training_curves_figure(history)
    assert len(fig.axes) == 2
    assert {ln.get_label() for ln in fig.axes[0].lines} == {"train_loss", "val_loss"}
    assert [ln.get_label() for ln in fig.axes[1].lines] == ["val_accuracy"]
    assert _saved(fig, tmp_path / "train.png") == PNG_MAGIC
    assert len(training_curves_figure({"train_loss": [1.0, 0.5]}).axes) == 1
    with pytest.raises(ConfigError, match="series"):
        training_curves_figure({"best_epoch": 3})


def test_no_pyplot_state():
    fig = training_curves_figure({"loss": [1.0, 0.5]})
    assert fig.canvas.__class__.__name__ == "FigureCanvasAgg"
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
