"""Benchmark SAP's cost per step against ART PGD, and NSR training's cost per epoch against plain and PGD training.

Usage: ``python benchmarks/bench_sap_nsr.py [--threads 1] [--n-attack 512] [--n-train 4096] [--length 256]``.
Random beats and an untrained ~42K-parameter CNN: only timings are meaningful here.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.defences.trainer import AdversarialTrainer
from art.estimators.classification import PyTorchClassifier
from torch import nn

from attacks_custom import NSRTrainer, SmoothAdversarialPerturbation

try:
    from ecg_art.models import BaselineCNN
except ImportError:  # stand-alone fallback of the same size (~42K parameters)
    class BaselineCNN(nn.Module):
        def __init__(self, *, n_classes: int = 5, input_length: int = 256) -> None:
            super().__init__()
            layers, c_in = [], 1
            for c_out, k in zip((16, 32, 64, 64), (7, 5, 5, 5)):
                layers += [nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.BatchNorm1d(c_out), nn.ReLU(), nn.MaxPool1d(2)]
                c_in = c_out
            self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 128), nn.ReLU(),
                                     nn.Dropout(0.2), nn.Linear(128, n_classes))

        def forward(self, x):
            return self.net(x)


def classifier(length: int, seed: int = 0) -> PyTorchClassifier:
    torch.manual_seed(seed)
    model = BaselineCNN(n_classes=5, input_length=length)
    return PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(model.parameters()),
                             input_shape=(1, length), nb_classes=5, clip_values=(0.0, 1.0), device_type="cpu")


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-attack", type=int, default=512)
    parser.add_argument("--n-train", type=int, default=4096)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--pgd-iter", type=int, default=10, help="SAP runs pgd_iter + 2 pgd_iter steps")
    parser.add_argument("--repeat", type=int, default=3, help="SAP and PGD alternate; the best of each is kept")
    parser.add_argument("--only", choices=("all", "attack", "train"), default="all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    out: dict = {"threads": args.threads, "length": args.length, "torch": torch.__version__}

    clf = classifier(args.length)
    out["params"] = sum(p.numel() for p in clf.model.parameters())
    x = rng.random((args.n_attack, 1, args.length), dtype=np.float32)
    y = rng.integers(0, 5, args.n_attack)
    steps = 3 * args.pgd_iter
    sap = SmoothAdversarialPerturbation(clf, eps=0.05, pgd_iter=args.pgd_iter, batch_size=args.batch_size)
    pgd = ProjectedGradientDescent(clf, eps=0.05, eps_step=0.005, max_iter=steps, batch_size=args.batch_size,
                                   verbose=False)
    if args.only != "train":
        t_sap, t_pgd = np.inf, np.inf
        for _ in range(args.repeat):  # alternate so that load from other processes hits both alike
            t_sap = min(t_sap, best_of(lambda: sap.generate(x, y), 1))
            t_pgd = min(t_pgd, best_of(lambda: pgd.generate(x, y), 1))
        out["attack"] = {"n": args.n_attack, "batch_size": args.batch_size, "steps": steps,
                         "sap_ms_per_step": 1e3 * t_sap / steps, "pgd_ms_per_step": 1e3 * t_pgd / steps,
                         "sap_over_pgd": t_sap / t_pgd}
    if args.only == "attack":
        print(json.dumps(out, indent=2, default=float))
        return

    x_tr = rng.random((args.n_train, 1, args.length), dtype=np.float32)
    y_tr = rng.integers(0, 5, args.n_train)
    def epoch_plain():
        clf_ = classifier(args.length)
        return best_of(lambda: clf_.fit(x_tr, y_tr, batch_size=128, nb_epochs=1, verbose=False), 1)

    def epoch_nsr(**kw):
        clf_ = classifier(args.length)
        attack = kw.pop("pgd", None)
        if attack:
            kw["attack"] = ProjectedGradientDescent(clf_, eps=0.05, eps_step=0.0125, max_iter=attack, verbose=False)
        return best_of(lambda: NSRTrainer(clf_, **kw).fit(x_tr, y_tr, nb_epochs=1, batch_size=128, seed=0), 1)

    def epoch_art_pgd_at(max_iter: int):
        clf_ = classifier(args.length)
        pgd_ = ProjectedGradientDescent(clf_, eps=0.05, eps_step=0.0125, max_iter=max_iter, verbose=False)
        trainer = AdversarialTrainer(clf_, pgd_, ratio=0.5)
        return best_of(lambda: trainer.fit(x_tr, y_tr, nb_epochs=1, batch_size=128), 1)

    epoch = {
        "plain_art_fit": epoch_plain(),
        "plain_trainer_ce": epoch_nsr(beta=0.0, base_loss="estimator"),
        "nsr_mse_margin": epoch_nsr(beta=0.3),
        "nsr_ce": epoch_nsr(beta=0.3, eps=0.05, base_loss="estimator"),
        "pgd10_at_art_trainer": epoch_art_pgd_at(10),
        "pgd10_at_nsr_trainer_beta0": epoch_nsr(beta=0.0, base_loss="estimator", pgd=10),
        "pgd10_at_plus_nsr": epoch_nsr(beta=0.3, pgd=10),
    }
    out["train_epoch_s"] = {"n": args.n_train, "batch_size": 128, "ratio_adv": 0.5, **epoch}
    out["train_ratios"] = {"nsr_over_plain": epoch["nsr_mse_margin"] / epoch["plain_trainer_ce"],
                           "nsr_over_pgd10_at": epoch["nsr_mse_margin"] / epoch["pgd10_at_art_trainer"]}
    print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
