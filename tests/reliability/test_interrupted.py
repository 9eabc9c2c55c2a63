"""Interrupted work: a training process SIGKILLed mid-epoch or mid-checkpoint-write resumes to the exact weights of
an uninterrupted run, and leaves no half-written or temporary files behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ecg_art.io import load_checkpoint
from tests.reliability._train_child import run_training

REPO = Path(__file__).resolve().parents[2]
CHILD = "tests.reliability._train_child"
START_TIMEOUT_S = 60  # child start (imports torch/ART) plus the first epoch, on a loaded 2-core machine
RUN_TIMEOUT_S = 120


def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", CHILD, *args], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", CHILD, *args], cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited ({proc.returncode}) before {path.name}: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait(10)
            raise AssertionError(f"{path.name} did not appear within {timeout_s} s")
        time.sleep(0.05)


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stderr.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """Final weights and history of an uninterrupted run (in this process, on one thread like the children)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        state, history = run_training(tmp_path_factory.mktemp("reference") / "ckpt")
    finally:
        torch.set_num_threads(threads)
    return {"model": state, "history": history}


@pytest.mark.parametrize("stall", ["epoch", pytest.param("write", marks=pytest.mark.slow)])
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path, reference, stall):
    ckpt, sig = tmp_path / "ckpt", tmp_path / "stalled"
    proc = _start("--ckpt", str(ckpt), "--out", str(tmp_path / "never.pt"), "--stall", stall, "--signal", str(sig),
                  "--init-seed", "0")
    try:
        _wait_for(sig, proc, START_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            _kill(proc)
    # what the killed run left: epoch 0's checkpoint, intact (atomic writes), and nothing else usable
    state = load_checkpoint(ckpt / "last.pt")
    assert state["epoch"] == 0
    temps = sorted(p.name for p in ckpt.iterdir() if p.name.endswith(".tmp"))
    assert bool(temps) == (stall == "write"), temps  # SIGKILL mid-write leaves its temp file, never a bad last.pt
    assert not (tmp_path / "never.pt").exists()

    _run("--ckpt", str(ckpt), "--out", str(tmp_path / "final.pt"), "--resume", "--init-seed", "99")
    final = load_checkpoint(tmp_path / "final.pt")
    assert final["history"]["resumed_from"] == 1 and len(final["history"]["epochs"]) == 4
    assert final["model"].keys() == reference["model"].keys()
    for name, tensor in reference["model"].items():
        assert torch.equal(final["model"][name], tensor), name
    ref_f1 = [e["val_macro_f1"] for e in reference["history"]["epochs"]]
    assert [e["val_macro_f1"] for e in final["history"]["epochs"]] == ref_f1
    assert sorted(p.name for p in ckpt.iterdir()) == ["best.pt", "last.pt"]  # stale temp files cleaned up
    assert load_checkpoint(ckpt / "last.pt")["epoch"] == 3
