"""Param flattening and metric validation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import pytest

from ecg_art.exceptions import ConfigError
from ecg_art.tracking import flatten_params
from ecg_art.tracking.params import check_key, to_metrics


class Mode(Enum):
    QUICK = "quick"


@dataclass(frozen=True)
class Inner:
    eps: float = 0.02
    steps: int = 10


@dataclass(frozen=True)
class Config:
    inner: Inner = field(default_factory=Inner)
    mode: Mode = Mode.QUICK
    out: Path = Path("results")
    seeds: tuple = (0, 1)
    extra: dict = field(default_factory=dict)


def test_flatten_nested_dataclass_and_dict():
    flat = flatten_params({"cfg": Config(), "lr": 1e-3, "none": None})
    assert flat == {"cfg.inner.eps": "0.02", "cfg.inner.steps": "10", "cfg.mode": "quick", "cfg.out": "results",
                    "cfg.seeds": "[0, 1]", "cfg.extra": "{}", "lr": "0.001", "none": "None"}


def test_flatten_rejects_scalars():
    with pytest.raises(ConfigError, match="params"):
        flatten_params(3)


@pytest.mark.parametrize("key", ["a b", "x/y.z", "sens_N", "acc:val"])
def test_good_keys(key):
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "a,b", "../up", "a//b", "q" * 251])
def test_bad_keys(key):
    with pytest.raises(ConfigError):
        check_key(key)


def test_metrics_cast_and_skip_nan(caplog):
    with caplog.at_level("DEBUG", logger="ecg_art.tracking.params"):
        out = to_metrics({"a": np.float32(0.5), "b": 3, "c": float("nan"), "d": True, "e": math.inf})
    assert out == {"a": 0.5, "b": 3.0, "d": 1.0, "e": math.inf}
    assert all(isinstance(v, float) for v in out.values())
    assert "'c' is NaN" in caplog.text


def test_metrics_reject_text():
    with pytest.raises(ConfigError, match="'a'"):
        to_metrics({"a": "high"})
