"""The fusion recipe's "rhythm-record" input: every split gets its recording's mean RR appended, by dataset index."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from ecg_art.exceptions import ConfigError
from recipes.common import Prepared
from recipes.fusion import Config, with_record_rr


def test_with_record_rr_appends_each_beats_recording_mean(monkeypatch):
    import ecg_art.features.record_rhythm as rr

    ds = SimpleNamespace(record=np.array(["100", "101", "100", "232"]), lead=np.array(["MLII"] * 4),
                         x=np.arange(4 * 6, dtype=np.float32).reshape(4, 1, 6), y=np.zeros(4, np.int64))
    prep = Prepared(ds, SimpleNamespace(test=np.array([3, 0])), ds.x[[1, 2]], ds.y[[1, 2]], ds.x[[0]], ds.y[[0]],
                    ds.x[[3, 0]], ds.y[[3, 0]], np.arange(2), train_idx=np.array([1, 2]), val_idx=np.array([0]))
    calls = []

    def fake_mean_rr(records, data_dir=None, *, leads=None, **kw):
        calls.append((sorted(records), leads))
        return {"100": 0.8, "101": 0.95, "232": 1.01}

    monkeypatch.setattr(rr, "record_mean_rr", fake_mean_rr)
    out = with_record_rr(Config(), prep)
    assert calls == [(["100", "101", "232"], {"100": "MLII", "101": "MLII", "232": "MLII"})]
    assert out.x_train[:, 0, -1].tolist() == pytest.approx([0.95, 0.8])
    assert out.x_val[:, 0, -1].tolist() == pytest.approx([0.8])
    assert out.x_test[:, 0, -1].tolist() == pytest.approx([1.01, 0.8])
    assert np.array_equal(out.x_test[..., :-1], prep.x_test) and out.x_test.shape == (2, 1, 7)
    with pytest.raises(ConfigError, match="context_clip"):
        with_record_rr(Config(context_clip=(-4.0, 1.0)), prep)
    with pytest.raises(ConfigError, match="train_idx"):
        with_record_rr(Config(), dataclasses.replace(prep, train_idx=None))
