import dataclasses

import pytest

from ecg_art.cli import apply_overrides, main
from ecg_art.exceptions import ConfigError


@dataclasses.dataclass(frozen=True)
class _Cfg:
    n: int = 1
    eps: tuple = (0.1,)
    name: str = "x"


def test_overrides_parse_json_and_strings():
    cfg = apply_overrides(_Cfg(), ["n=3", "eps=[0.01, 0.05]", "name=hello world"])
    assert cfg == _Cfg(n=3, eps=(0.01, 0.05), name="hello world")


@pytest.mark.parametrize("item", ["nokey", "missing=1"])
def test_bad_override_names_the_field(item):
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(_Cfg(), [item])


def test_unknown_recipe_exits_nonzero_with_a_clear_message(capsys):
    assert main(["run", "no-such-recipe"]) == 2
    err = capsys.readouterr().err
    assert "unknown recipe 'no-such-recipe'" in err and "baseline" in err


def test_unknown_profile_exits_nonzero(capsys):
    assert main(["run", "baseline", "--profile", "huge"]) == 2
    assert "unknown profile 'huge'" in capsys.readouterr().err


def test_missing_data_dir_exits_nonzero(tmp_path, capsys):
    code = main(["data", "info", "--data-dir", str(tmp_path / "nowhere"), "--cache-dir", str(tmp_path / "c")])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err


def test_list_recipes(capsys):
    assert main(["list", "recipes"]) == 0
    names = capsys.readouterr().out.split()
    assert {"baseline", "at", "nsr", "at-nsr", "paper"} <= set(names)


def test_sigterm_closes_the_mlflow_run_as_killed_and_exits_130(tmp_path, monkeypatch, capsys):
    """A job stopped with ``kill`` (SIGTERM) is handled like Ctrl-C: its MLflow run is marked KILLED, not left
    RUNNING, and the command exits 130 with the resume hint."""
    import os
    import signal
    import types

    from mlflow import MlflowClient

    from ecg_art.cli import RECIPES
    from ecg_art.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    @dataclasses.dataclass(frozen=True)
    class Cfg:
        tracking_uri: str | None = None

    def run(cfg):
        with Tracker("sigterm", run_name="victim", tracking_uri=cfg.tracking_uri):
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setitem(RECIPES._items, "victim", types.SimpleNamespace(PROFILES={"quick": Cfg()}, run=run))
    before = signal.getsignal(signal.SIGTERM)
    assert main(["run", "victim", "--tracking-uri", uri]) == 130
    assert "--resume" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the caller's again
    client = MlflowClient(tracking_uri=uri)
    (run_info,) = client.search_runs([client.get_experiment_by_name("sigterm").experiment_id])
    assert run_info.info.status == "KILLED"


def test_library_info_lines_are_shown_with_verbose_only(capsys):
    import logging

    from ecg_art.cli import main

    assert main(["list", "recipes"]) == 0
    assert logging.getLogger("art").getEffectiveLevel() == logging.WARNING
    assert main(["-v", "list", "recipes"]) == 0
    assert logging.getLogger("art").getEffectiveLevel() == logging.DEBUG
    logging.getLogger("art").setLevel(logging.NOTSET)
