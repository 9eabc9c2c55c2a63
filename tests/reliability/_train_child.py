"""Child process of test_interrupted: trains the tiny problem with fit_classifier, optionally stalling so the parent
can SIGKILL it mid-epoch or mid-checkpoint-write. Not a test module (no ``test_`` prefix)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

NB_EPOCHS, SEED, BATCH = 4, 3, 32


class StallingTrainer:
    """Runs one epoch of ``classifier.fit``; on call ``stall_at`` it trains, then signals and sleeps (mid-epoch)."""

    def __init__(self, classifier, *, stall_at: int, signal: Path, stall_s: float) -> None:
        self.classifier, self.stall_at, self.signal, self.stall_s, self.calls = classifier, stall_at, signal, stall_s, 0

    def fit(self, x, y, *, nb_epochs: int, batch_size: int) -> None:
        self.classifier.fit(x, y, nb_epochs=nb_epochs, batch_size=batch_size)  # weights now ahead of the checkpoint
        if self.calls == self.stall_at:
            self.signal.write_text("in epoch, weights changed, checkpoint not yet written")
            time.sleep(self.stall_s)
        self.calls += 1


def stall_second_checkpoint_write(signal: Path, stall_s: float) -> None:
    """Make the write of ``last.pt`` for epoch 1 stop half-way (partial bytes in its temp file), then sleep."""
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 1 and "optimizer" in obj:
            with open(f, "wb") as fh:
                fh.write(b"PK\x03\x04 half of a checkpoint")
                fh.flush()
            signal.write_text("mid-write")
            time.sleep(stall_s)
        return real_save(obj, f, *args, **kwargs)

    torch.save = save


def run_training(ckpt: Path, *, stall: str = "none", signal: Path | None = None, stall_s: float = 60.0,
                 init_seed: int = 0, resume: bool = False):
    """Train the tiny problem for NB_EPOCHS epochs with checkpoints in ``ckpt``; return ``(state_dict, history)``."""
    from ecg_art.training import fit_classifier
    from tests.reliability.conftest import tiny_classifier, tiny_problem

    x, y = tiny_problem()
    xv, yv = tiny_problem(90, seed=1)
    clf = tiny_classifier(init_seed)
    trainer = StallingTrainer(clf, stall_at=1 if stall == "epoch" else -1, signal=signal, stall_s=stall_s)
    if stall == "write":
        stall_second_checkpoint_write(signal, stall_s)
    hist = fit_classifier(clf, x, y, validation_data=(xv, yv), nb_epochs=NB_EPOCHS, batch_size=BATCH, patience=10,
                          seed=SEED, trainer=trainer, checkpoint_dir=ckpt, resume=resume)
    return clf.model.state_dict(), hist.to_dict()


def main() -> None:
    from ecg_art.io import save_checkpoint

    p = argparse.ArgumentParser()
    p.add_argument("--ckpt", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--stall", choices=["none", "epoch", "write"], default="none")
    p.add_argument("--signal", type=Path)
    p.add_argument("--stall-s", type=float, default=60.0)
    p.add_argument("--init-seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    state, history = run_training(args.ckpt, stall=args.stall, signal=args.signal, stall_s=args.stall_s,
                                  init_seed=args.init_seed, resume=args.resume)
    save_checkpoint(args.out, {"model": state, "history": history})


if __name__ == "__main__":
    main()
