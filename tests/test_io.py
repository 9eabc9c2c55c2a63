import pickle

import pytest
import torch

from ecg_art.exceptions import CheckpointError
from ecg_art.io import atomic_path, load_checkpoint, save_checkpoint, write_json


def test_atomic_path_leaves_old_content_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temp file left behind


def test_checkpoint_round_trip(tmp_path):
    state = {"w": torch.arange(4.0)}
    save_checkpoint(tmp_path / "c.pt", {"model": state, "epoch": 3})
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["epoch"] == 3 and torch.equal(back["model"]["w"], state["w"])


class _Evil:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pwned')",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "ecg_art.checkpoint/1", "x": _Evil()}, path)
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("content", [b"", b"not a torch file", pickle.dumps({"a": 1})])
def test_garbage_and_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(path)


def test_foreign_torch_file_without_format_tag(tmp_path):
    torch.save({"model": {}}, tmp_path / "f.pt")
    with pytest.raises(CheckpointError, match="not an ecg_art checkpoint"):
        load_checkpoint(tmp_path / "f.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_write_json_numpy(tmp_path):
    import json

    import numpy as np

    write_json(tmp_path / "r.json", {"a": np.float32(0.5), "b": np.arange(2)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 0.5, "b": [0, 1]}
