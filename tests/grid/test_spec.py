"""Grid files: every bad key is refused with an error naming it; cells are the cross product of the axes, keyed by the
hash of their config; the example grids in grids/ are valid."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ecg_art.exceptions import ConfigError
from ecg_art.grid import config_key, expand_cells, grid_hash, load_grid, parse_grid

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"axes": {"recipe": ["baseline"], "seed": [0, 1]}, "settings": {"nb_epochs": 1}}


def _with(section: str, key: str, value) -> dict:
    raw = {k: dict(v) for k, v in GOOD.items()}
    raw.setdefault(section, {})[key] = value
    return raw


@pytest.mark.parametrize("raw, names", [
    ({**GOOD, "axis": {"seed": [0]}}, "`axis` is not a section"),
    (_with("grid", "treads", 1), "`grid.treads` is not a grid option"),
    (_with("grid", "threads", 0), "`grid.threads` must be an int >= 1"),
    (_with("grid", "retries", -1), "`grid.retries` must be an int >= 0"),
    (_with("grid", "resume", "yes"), "`grid.resume` must be true or false"),
    (_with("grid", "gpus_per_cell", "all"), "`grid.gpus_per_cell` must be \"auto\" or a number"),
    (_with("grid", "profile", "fast"), "`grid.profile` names profile 'fast', which recipe 'baseline' lacks"),
    ({"axes": {"seed": [0]}}, "`axes.recipe` is required"),
    (_with("axes", "recipe", ["baseline", "no-such-recipe"]), "`axes.recipe` names an unknown recipe"),
    (_with("axes", "recipe", ["paper"]), "`axes.recipe` names recipe 'paper', whose run() takes no `tracker`"),
    (_with("axes", "seed", 3), "`axes.seed` must be a list of values"),
    (_with("axes", "seed", []), "`axes.seed` must list at least one value"),
    (_with("axes", "seed", [0, 0]), "`axes.seed` lists a value twice"),
    (_with("axes", "seed", [0, "one"]), "`axes.seed` must be an int"),
    (_with("axes", "sead", [0, 1]), "`axes.sead` is not a config field of recipe(s) baseline"),
    (_with("axes", "threads", [1, 2]), "`axes.threads` is set by the grid"),
    (_with("settings", "nb_epoch", 2), "`settings.nb_epoch` is not a config field"),
    (_with("settings", "nb_epochs", 2.5), "`settings.nb_epochs` must be an int"),
    (_with("settings", "lr", "fast"), "`settings.lr` must be a number"),
    (_with("settings", "attacks", "pgd"), "`settings.attacks` must be a list"),
    (_with("settings", "log_model", 1), "`settings.log_model` must be true or false"),
    (_with("settings", "seed", 3), "`settings.seed` is an axis too"),
    (_with("settings", "output_dir", "x"), "`settings.output_dir` is set by the grid"),
    (_with("settings", "at", {"train_eps": 0.1}), "`settings.at` is a table, but 'at' is not a recipe of the grid"),
    ({"axes": {"recipe": ["baseline", "at"]}, "settings": {"at": {"train_epz": 0.1}}},
     "`settings.at.train_epz` is not a config field of recipe(s) at"),
])
def test_bad_keys_are_named(raw, names):
    with pytest.raises(ConfigError) as err:
        parse_grid(raw, source="g.toml")
    assert str(err.value).startswith("g.toml: ") and names in str(err.value)


def test_load_grid_names_a_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_grid(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[axes\nrecipe = 1")
    with pytest.raises(ConfigError, match="bad.toml.*not valid TOML"):
        load_grid(tmp_path / "bad.toml")
    (tmp_path / "g.toml").write_text('[axes]\nrecipe = ["baseline"]\nseed = [0, "x"]\n')
    with pytest.raises(ConfigError, match=r"g.toml: `axes.seed` must be an int"):
        load_grid(tmp_path / "g.toml")


def test_defaults_and_name_from_the_file(tmp_path):
    (tmp_path / "study.toml").write_text('[axes]\nrecipe = ["baseline"]\n')
    spec = load_grid(tmp_path / "study.toml")
    assert (spec.name, spec.experiment, spec.profile, spec.threads, spec.retries, spec.resume) == \
        ("study", "ecg_art-grid-study", "quick", 1, 1, True)


def test_cells_are_the_cross_product_with_settings_and_per_recipe_settings():
    spec = parse_grid({"grid": {"output_dir": "out", "threads": 1},
                       "axes": {"recipe": ["baseline", "at"], "seed": [0, 1, 2], "eps": [0.01, 0.05]},
                       "settings": {"nb_epochs": 2, "attacks": ["fgsm", "pgd"], "at": {"train_eps": 0.02}}})
    cells = expand_cells(spec, tracking_uri="sqlite:///x.db")
    assert len(cells) == 2 * 3 * 2 and len({c.key for c in cells}) == len(cells)
    at = [c for c in cells if c.recipe == "at"]
    assert all(c.config.train_eps == 0.02 and c.config.nb_epochs == 2 for c in at)
    assert all(c.config.attacks == ("fgsm", "pgd") for c in cells)
    assert {c.config.eps for c in cells} == {(0.01,), (0.05,)}  # a scalar axis value is one cell's 1-tuple
    assert all((c.config.output_dir, c.config.threads, c.config.resume, c.config.tracking_uri,
                c.config.experiment) == ("out", 1, True, "sqlite:///x.db", spec.experiment) for c in cells)
    assert cells[0].name == "baseline seed=0 eps=0.01" and at[-1].name == "at seed=2 eps=0.05"


def test_an_axis_a_recipe_lacks_does_not_duplicate_its_cells():
    spec = parse_grid({"axes": {"recipe": ["baseline", "at"], "train_eps": [0.01, 0.03]}})
    cells = expand_cells(spec)
    assert [c.name for c in cells] == ["baseline", "at train_eps=0.01", "at train_eps=0.03"]


def test_cell_keys_ignore_bookkeeping_and_grid_hash_follows_the_cells():
    spec = parse_grid(GOOD)
    cells = expand_cells(spec)
    moved = expand_cells(dataclasses.replace(spec, output_dir="elsewhere", threads=2), tracking_uri="http://h:1")
    assert [c.key for c in cells] == [c.key for c in moved]
    assert grid_hash(spec, cells) == grid_hash(spec, moved)
    assert config_key(dataclasses.replace(cells[0].config, nb_epochs=5)) != cells[0].key
    more = spec.with_axis("seed", [0, 1, 2])
    assert grid_hash(more, expand_cells(more)) != grid_hash(spec, cells)
    assert dict(more.axes)["seed"] == (0, 1, 2)


def test_with_axis_moves_a_setting_to_the_axis():
    spec = parse_grid({"axes": {"recipe": ["baseline"]}, "settings": {"seed": 4}})
    assert [c.config.seed for c in expand_cells(spec.with_axis("seed", [0, 1]))] == [0, 1]
    with pytest.raises(ConfigError, match="`seed`"):
        spec.with_axis("seed", [])


@pytest.mark.parametrize("name, n_cells", [("small.toml", 8), ("full-study.toml", 4 * 3 * 2)])
def test_example_grids_are_valid(name, n_cells):
    spec = load_grid(ROOT / "grids" / name)
    cells = expand_cells(spec)
    assert len(cells) == n_cells and all(c.config.threads == 1 for c in cells)
    assert set(dict(spec.axes)["seed"]) >= {0, 1}
