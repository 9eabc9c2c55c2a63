"""Property-based checks (hypothesis) of the data and attack entry points: any input either gives a result that keeps
the documented invariants or raises the package's error naming the parameter; nothing else escapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ecg_art.attacks import get_attack
from ecg_art.data import DS1_RECORDS, DS2_RECORDS, BeatConfig, BeatDataset, make_split, stratified_subset
from ecg_art.exceptions import AttackError, ConfigError, SplitError
from tests.reliability.conftest import LENGTH, tiny_classifier, tiny_problem

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

anything = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=5), st.lists(st.integers(0, 3), max_size=3))
_valid_fraction = st.one_of(st.floats(0, 0.45), st.sampled_from([0, 0.1, 0.25]))
fractions = st.one_of(_valid_fraction, _valid_fraction, _valid_fraction, st.floats(-1, 2),
                      st.sampled_from([1, 0.999, -0.0, math.nan, math.inf, True, None, "0.1"]))


# ---------------------------------------------------------------------------------------------------------- data
@FAST
@given(field=st.sampled_from(["window", "r_offset", "fs", "lead", "missing_lead", "normalize", "records"]),
       value=st.one_of(anything, st.sampled_from(["MLII", "skip", "zscore", ("100", "101"), 128, 360.0])))
def test_beat_config_valid_or_names_the_field(field, value):
    try:
        cfg = BeatConfig(**{field: value})
    except ConfigError as exc:
        assert field in str(exc)
        return
    assert 2 <= cfg.window and 0 <= cfg.r_offset < cfg.window
    assert math.isfinite(cfg.fs) and cfg.fs > 0 and isinstance(cfg.lead, str) and cfg.lead.strip()
    assert cfg.records is None or (len(cfg.records) == len(set(cfg.records)) > 0)
    assert BeatConfig(**cfg.__dict__) == cfg  # round-trips


@FAST
@given(window=st.integers(-5, 600), r_offset=st.integers(-5, 600))
def test_beat_config_window_and_r_offset(window, r_offset):
    try:
        cfg = BeatConfig(window=window, r_offset=r_offset)
    except ConfigError as exc:
        assert "window" in str(exc) or "r_offset" in str(exc)
        assert window < 2 or not 0 <= r_offset < window
        return
    assert 0 <= cfg.r_offset < cfg.window


def _dataset(n: int = 300, seed: int = 0) -> BeatDataset:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 5
    records = np.array([(DS1_RECORDS if i % 2 else DS2_RECORDS)[i % 7] for i in range(n)])
    x = rng.random((n, 1, 8)).astype(np.float32)
    nan = np.full(n, np.nan, np.float32)
    return BeatDataset(x=x, y=y, record=records, sample=np.arange(n), symbol=np.full(n, "N"), lead=np.full(n, "MLII"),
                       rr_prev=nan, rr_next=nan, rr_local=nan, r_index=3, fs=360.0)


DATASET = _dataset()


@FAST
@given(scheme=st.sampled_from(["intra", "intra", "inter", "inter", "bogus"]), val=fractions, test=fractions,
       seed=st.one_of(st.integers(0, 2**31), st.integers(0, 2**31), st.integers(0, 9), st.none(), st.floats(0, 5)))
def test_make_split_partitions_or_raises_split_error(scheme, val, test, seed):
    try:
        split = make_split(DATASET, scheme, val_fraction=val, test_fraction=test, seed=seed)
    except SplitError as exc:
        event("refused")
        assert any(name in str(exc) for name in ("scheme", "val_fraction", "test_fraction", "seed", "carve"))
        return
    event(f"split {scheme}")
    parts = [split.train, split.val, split.test]
    for part in parts:
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)
    everything = np.concatenate(parts)
    assert len(np.unique(everything)) == len(everything)  # disjoint
    assert everything.min() >= 0 and everything.max() < len(DATASET)
    n = len(DATASET)
    if scheme == "intra":
        assert len(everything) == n
        assert abs(len(split.test) - test * n) <= 5 and abs(len(split.val) - val * n) <= 5
    else:
        assert set(DATASET.record[split.test]) <= set(DS2_RECORDS)
        assert set(DATASET.record[np.concatenate([split.train, split.val])]) <= set(DS1_RECORDS)
    again = make_split(DATASET, scheme, val_fraction=val, test_fraction=test, seed=seed)
    assert again.fingerprint() == split.fingerprint()


@FAST
@given(labels=st.lists(st.integers(0, 3), min_size=1, max_size=60), n=st.integers(-2, 80),
       seed=st.integers(0, 2**31), drop=st.integers(0, 10))
def test_stratified_subset_invariants(labels, n, seed, drop):
    y = np.array(labels)
    indices = np.arange(drop, len(y))
    assume(len(indices) > 0)
    try:
        sub = stratified_subset(indices, y, n, seed=seed)
    except SplitError as exc:
        assert "`n`" in str(exc)
        assert n < 1 or n < len(np.unique(y[indices]))
        return
    assert np.all(np.diff(sub) > 0) and set(sub) <= set(indices)
    assert len(sub) == min(n, len(indices))
    assert set(y[sub]) == set(y[indices])  # every class kept
    np.testing.assert_array_equal(sub, stratified_subset(indices, y, n, seed=seed))


# -------------------------------------------------------------------------------------------------------- attacks
@pytest.fixture(scope="module")
def trained():
    clf = tiny_classifier()
    x, y = tiny_problem()
    clf.fit(x, y, batch_size=32, nb_epochs=5)
    return clf, x[:8], y[:8]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # eps ~ 1e300 in float32
@FAST
@given(eps=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.booleans(), st.none(),
                     st.text(max_size=3), st.floats(0, 0.3)),
       name=st.sampled_from(["fgsm", "pgd", "ta-fgsm"]))
def test_eps_is_validated_and_bounds_the_perturbation(trained, eps, name):
    clf, x, y = trained
    kw = {"max_iter": 3} if name == "pgd" else {}
    try:
        runner = get_attack(name, clf, eps=eps, batch_size=8, **kw)
    except ConfigError as exc:
        event("refused")
        assert "`eps`" in str(exc)
        assert isinstance(eps, (bool, str, type(None))) or not (math.isfinite(eps) and eps >= 0) or eps / 4 == 0
        return
    event("attacked")
    x_adv = runner.generate(x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert float(np.abs(x_adv - x).max()) <= float(eps) + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def _beat_arrays():
    valid = st.tuples(st.integers(0, 4), st.just(1), st.just(LENGTH))
    other = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
    values = st.one_of(st.floats(0, 1, width=32), st.floats(width=32, allow_nan=True, allow_infinity=True))
    return arrays(np.float32, st.one_of(valid, valid, other), elements=values)


@FAST
@given(x=_beat_arrays(), name=st.sampled_from(["fgsm", "sap"]))
def test_any_array_gives_a_valid_result_or_attack_error(trained, x, name):
    clf = trained[0]
    runner = get_attack(name, clf, eps=0.05, batch_size=4, **({"pgd_iter": 2} if name == "sap" else {}))
    valid = x.ndim == 3 and x.shape[1:] == (1, LENGTH) and np.all(np.isfinite(x)) and (
        x.size == 0 or (x.min() >= 0 and x.max() <= 1))
    try:
        x_adv = runner.generate(x)
    except AttackError as exc:
        event("refused")
        assert not valid, f"valid beats refused: {exc}"
        assert "`x`" in str(exc)
        return
    event("attacked")
    assert valid
    assert x_adv.shape == x.shape and np.all(np.isfinite(x_adv))
    if x.size:
        assert float(np.abs(x_adv - x).max()) <= 0.05 + 1e-6
