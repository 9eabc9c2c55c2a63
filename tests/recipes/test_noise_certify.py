"""The noise and certify recipes end to end on small random beats (prepare_data and the tracker stubbed), and the
noise-augmentation hook of every recipe."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from recipes import baseline, certify, noise
from recipes.common import Prepared, config_hash


class FakeTracker:
    run_id = "fake"

    def __init__(self):
        self.metrics, self.figures, self.texts = {}, [], {}

    def log_params(self, params):
        self.params = dict(params)

    def log_metrics(self, metrics, step=None):
        self.metrics.update(metrics)

    def log_figure(self, fig, name):
        self.figures.append(name)

    def log_text(self, text, name):
        self.texts[name] = text

    def log_dict(self, obj, name):
        pass


def _prepared(n: int = 60, seed: int = 0) -> Prepared:
    rng = np.random.default_rng(seed)

    def beats(k):
        x = rng.random((k, 1, 256)).astype(np.float32) * 0.2
        y = rng.integers(0, 2, size=k)
        x[y == 1, 0, 90] = 1.0  # class 1 has a tall QRS
        x[y == 0, 0, 90] = 0.5
        return x, y.astype(np.int64)

    (xt, yt), (xv, yv), (xs, ys) = beats(n), beats(n // 2), beats(n // 2)
    fp = SimpleNamespace(fingerprint=lambda: "synthetic")
    return Prepared(fp, fp, xt, yt, xv, yv, xs, ys, np.arange(len(ys)))


@pytest.fixture
def stub_data(monkeypatch, nstdb_dir):
    monkeypatch.setattr(noise, "prepare_data", lambda cfg: _prepared())
    monkeypatch.setattr(certify, "prepare_data", lambda cfg: _prepared())
    monkeypatch.setenv("ECG_ART_NOISE_DATA", str(nstdb_dir))


@pytest.fixture
def nstdb_dir(tmp_path):
    from tests.noise.conftest import write_noise_record, write_sums

    d = tmp_path / "nstdb"
    d.mkdir()
    write_noise_record(d, "bw", seed=1)
    write_noise_record(d, "ma", seed=2)
    write_sums(d)
    return d


def test_profiles():
    for mod in (noise, certify):
        assert set(mod.PROFILES) == {"quick", "full"}
    assert noise.PROFILES["full"].snrs_db == (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
    assert certify.PROFILES["full"].sigmas == (0.12, 0.25, 0.5) and certify.PROFILES["full"].n_samples == 10000
    assert certify.PROFILES["full"].eval_n >= 500 and 0.8 in certify.PROFILES["full"].report_radii


def test_noise_recipe_end_to_end(stub_data, tmp_path, capsys):
    import torch

    from ecg_art.io import save_checkpoint
    from ecg_art.models import BaselineCNN

    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m" / "best.pt", {"model": BaselineCNN().state_dict()})
    cfg = dataclasses.replace(noise.PROFILES["quick"], models=(f"cnn={ckpt}",), output_dir=str(tmp_path / "out"),
                              snrs_db=(12.0, 0.0), device="cpu", threads=1)
    tracker = FakeTracker()
    res = noise.run(cfg, tracker=tracker)
    assert [(r["kind"], r["snr_db"]) for r in res["cnn"]][:3] == [("clean", float("inf")), ("bw", 12.0), ("bw", 0.0)]
    assert "cnn_bw_snr0_macro_f1" in tracker.metrics and tracker.figures == [noise.FIGURE_FILE]
    out = json.loads(next((tmp_path / "out").glob("noise-*/results.json")).read_text())
    assert out["models"] == {"cnn": str(ckpt)} and len(out["results"]["cnn"]) == 1 + 3 * 2
    assert "gauss@0" in capsys.readouterr().out


def test_noise_recipe_finds_newest_checkpoints(tmp_path):
    for name, h in (("baseline", "aaaa"), ("baseline", "bbbb"), ("at", "cccc")):
        p = tmp_path / f"{name}-quick-intra-s0-{h}" / "checkpoints-train"
        p.mkdir(parents=True)
        (p / "best.pt").write_bytes(b"x")
    aug = tmp_path / "baseline-quick-intra-s0-dddd"
    (aug / "checkpoints-train").mkdir(parents=True)
    (aug / "checkpoints-train" / "best.pt").write_bytes(b"x")
    (aug / "results.json").write_text(json.dumps({"config": {"noise_augment": ["bw"]}}))
    cfg = dataclasses.replace(noise.PROFILES["quick"], output_dir=str(tmp_path))
    found = noise.find_models(cfg)
    assert set(found) == {"baseline", "baseline+noise", "at"}
    assert "dddd" in found["baseline+noise"] and "dddd" not in found["baseline"]
    from ecg_art.exceptions import CheckpointError

    with pytest.raises(CheckpointError, match="no checkpoint"):
        noise.find_models(dataclasses.replace(cfg, model_names=("nsr",)))


def test_certify_recipe_end_to_end(stub_data, tmp_path, capsys):
    cfg = dataclasses.replace(certify.PROFILES["quick"], output_dir=str(tmp_path / "out"), nb_epochs=1,
                              n0=10, n_samples=50, eval_n=None, device="cpu", threads=1, batch_size=32,
                              val_n=None, train_n=None)
    tracker = FakeTracker()
    rows = certify.run(cfg, tracker=tracker)
    row = rows[0.25]
    assert 0.0 <= row["cert@0.8"] <= row["cert@0.25"] <= row["cert@0"] <= 1.0
    assert row["cert@0.8"] == 0.0  # beyond sigma Phi^-1(alpha^(1/n)) at n = 50
    assert row["max_radius"] < 0.8
    assert "sigma0.25_cert_r0.25" in tracker.metrics and tracker.figures == [certify.FIGURE_FILE]
    assert "cert@0.8" in capsys.readouterr().out


def test_noise_augmentation_hook_keeps_old_hashes_and_wraps_trainers(nstdb_dir):
    import torch

    from ecg_art.estimators import make_classifier
    from ecg_art.models import BaselineCNN
    from ecg_art.noise import NoiseAugmentationTrainer

    cfg = baseline.PROFILES["quick"]
    aug = dataclasses.replace(cfg, noise_augment=("bw", "ma"), noise_dir=str(nstdb_dir))
    assert config_hash(dataclasses.replace(cfg, noise_dir="/elsewhere")) == config_hash(cfg)
    assert config_hash(aug) != config_hash(cfg)
    torch.manual_seed(0)
    clf = make_classifier(BaselineCNN(), device="cpu")
    inner = object()
    trainer = noise.augmentation_trainer(aug, clf, inner)
    assert isinstance(trainer, NoiseAugmentationTrainer) and trainer.inner is inner
    assert [s.part for s in trainer.sources] == ["train", "train"]


def test_recipes_without_the_hook_refuse_noise_augmentation(stub_data, tmp_path):
    from ecg_art.exceptions import ConfigError

    cfg = dataclasses.replace(certify.PROFILES["quick"], output_dir=str(tmp_path), noise_augment=("bw",), device="cpu",
                              nb_epochs=1, n_samples=10, n0=5)
    with pytest.raises(ConfigError, match="noise_augment"):
        certify.run(cfg, tracker=FakeTracker())
