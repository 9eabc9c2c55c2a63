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


def test_fusion_trains_under_noise_on_whole_contexts(nstdb_dir):
    """The fusion recipe's hook noises the 12 s context and rescales it with its beat window's map (and clip); the
    rhythm-record models, whose input ends with the recording's mean RR, are refused."""
    from ecg_art.estimators import make_classifier
    from ecg_art.exceptions import ConfigError
    from ecg_art.models import FusionNet
    from recipes import fusion
    from recipes.common import BEAT_R_OFFSET, BEAT_WINDOW

    cfg = dataclasses.replace(fusion.PROFILES["quick"], noise_augment=("bw",), noise_dir=str(nstdb_dir))
    clf = make_classifier(FusionNet(feature_set="rhythm", context_length=cfg.window, r_index=cfg.r_offset),
                          input_length=cfg.window, device="cpu",
                          clip_values=cfg.context_clip)
    trainer = noise.augmentation_trainer(cfg, clf, None)
    start = cfg.r_offset - BEAT_R_OFFSET
    assert trainer.norm_span == (start, start + BEAT_WINDOW) and trainer.clip == tuple(cfg.context_clip)
    x = _contexts(4).x_train
    trainer.p = 1.0  # every context gets noise
    noisy = trainer.augment(x, np.random.default_rng(0))
    window = noisy[:, 0, start:start + BEAT_WINDOW]
    assert np.allclose(window.min(axis=1), 0.0, atol=1e-5) and np.allclose(window.max(axis=1), 1.0, atol=1e-5)
    assert noisy.min() >= cfg.context_clip[0] and noisy.max() <= cfg.context_clip[1]
    assert not np.allclose(noisy, x)
    with pytest.raises(ConfigError, match="rhythm-record"):
        noise.augmentation_trainer(dataclasses.replace(cfg, feature_set="rhythm-record"), clf, None)


def test_recipes_without_the_hook_refuse_noise_augmentation(stub_data, tmp_path):
    from ecg_art.exceptions import ConfigError

    cfg = dataclasses.replace(certify.PROFILES["quick"], output_dir=str(tmp_path), noise_augment=("bw",), device="cpu",
                              nb_epochs=1, n_samples=10, n0=5)
    with pytest.raises(ConfigError, match="noise_augment"):
        certify.run(cfg, tracker=FakeTracker())


def _contexts(n: int = 12, seed: int = 0) -> Prepared:
    """12 s contexts (4,320 samples, R at 3,600) in the unit of their beat window, a beat every 0.8 s."""
    rng = np.random.default_rng(seed)
    x = (0.1 * rng.random((n, 1, 4320))).astype(np.float32)
    x[:, 0, 3600 - 288 * np.arange(13)] = 1.0
    y = rng.integers(0, 2, size=n).astype(np.int64)
    fp = SimpleNamespace(fingerprint=lambda: "synthetic")
    return Prepared(fp, fp, x, y, x, y, x, y, np.arange(n))


def test_noise_recipe_scores_fusion_models_on_noisy_contexts(stub_data, monkeypatch, tmp_path, capsys):
    import torch

    from ecg_art.io import save_checkpoint
    from ecg_art.models import BaselineCNN, FusionNet

    asked = []

    def prepare(cfg):
        asked.append((cfg.window, cfg.r_offset, getattr(cfg, "beat_unit", False)))
        return _contexts() if cfg.window == 4320 else _prepared()

    monkeypatch.setattr(noise, "prepare_data", prepare)
    torch.manual_seed(0)
    cnn = save_checkpoint(tmp_path / "b" / "best.pt", {"model": BaselineCNN().state_dict()})
    fus = save_checkpoint(tmp_path / "f" / "best.pt", {"model": FusionNet(context_length=4320, r_index=3600,
                                                                          feature_set="rhythm").state_dict()})
    cfg = dataclasses.replace(noise.PROFILES["quick"], models=(f"cnn={cnn}", f"fusion=fusion:{fus}"),
                              output_dir=str(tmp_path / "out"), snrs_db=(6.0,), device="cpu", threads=1,
                              chunk_size=5)
    res = noise.run(cfg, tracker=FakeTracker())
    assert asked == [(256, 90, False), (4320, 3600, True)]  # the beats, then the fusion recipe's own contexts
    assert [r["n"] for r in res["fusion"]] == [12] * 4 and [r["n"] for r in res["cnn"]] == [30] * 4
    out = json.loads(next((tmp_path / "out").glob("noise-*/results.json")).read_text())
    assert out["n_beats"] == {"cnn": 30, "fusion": 12}
    assert "4320-sample contexts" in capsys.readouterr().out


def test_fusion_data_rescales_noisy_contexts_with_the_beat_window(monkeypatch):
    from ecg_art.models import FusionNet

    monkeypatch.setattr(noise, "prepare_data", lambda cfg: _contexts())
    model = FusionNet(context_length=4320, r_index=3600, feature_set="rhythm")
    x, y, settings = noise.fusion_data(noise.PROFILES["full"], model)
    assert x.shape == (12, 1, 4320) and len(y) == 12
    assert settings == {"r_offset": 3600, "norm_span": (3510, 3766), "clip": (-4.0, 5.0),
                        "clip_values": (-4.0, 5.0)}
    from ecg_art.exceptions import ConfigError

    with pytest.raises(ConfigError, match="rhythm-record"):
        noise.fusion_data(noise.PROFILES["full"], FusionNet(context_length=4321, r_index=3600,
                                                            feature_set="rhythm-record"))


def test_noise_recipe_finds_fusion_stage2_checkpoints(tmp_path):
    for name, sub in (("fusion", "checkpoints-stage2"), ("fusion-clean", "checkpoints-stage2"),
                      ("baseline", "checkpoints-train")):
        p = tmp_path / f"{name}-full-intra-s0-abcd" / sub
        p.mkdir(parents=True)
        (p / "best.pt").write_bytes(b"x")
    found = noise.find_models(dataclasses.replace(noise.PROFILES["full"], output_dir=str(tmp_path)))
    assert set(found) == {"baseline", "fusion", "fusion-clean"}
    assert found["fusion"].startswith("fusion:") and "fusion-clean-full" in found["fusion-clean"]
