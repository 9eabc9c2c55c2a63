"""The RobustBench-like result of a benchmark: frozen dataclasses -> JSON, the sanity checks and the curve figure."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["AttackScore", "SanityCheck", "BenchmarkRecord", "package_versions", "sanity_checks", "benchmark_figure",
           "EPS_UNIT"]

EPS_UNIT = "normalised beat unit: each beat min-max scaled to [0, 1], clip_values (0, 1)"
_PACKAGES = ("ecg_art", "adversarial-robustness-toolbox", "torchattacks", "torch", "numpy", "scipy")


@dataclass(frozen=True)
class AttackScore:
    """Robust accuracy of one suite attack at every budget (``robust_accuracy[i]`` at ``eps[i]``)."""

    label: str
    attack: str
    kwargs: dict
    eps: tuple[float, ...]
    robust_accuracy: tuple[float, ...]
    seconds: float
    min_norm: bool = False
    note: str = ""

    def at(self, eps: float) -> float:
        return self.robust_accuracy[self.eps.index(eps)]


@dataclass(frozen=True)
class SanityCheck:
    """One automatic check of the evaluation (failing ones hint at gradient masking or a broken attack)."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class BenchmarkRecord:
    """RobustBench-style record of one model under one L-inf attack suite.

    ``worst_case[i]`` is the per-beat worst case at ``eps[i]`` (as RobustBench counts it): a beat counts as robust only
    if it is classified correctly clean and under every attack of the suite. ``unbounded_accuracy`` is PGD's accuracy
    with a budget spanning the whole clip range (should be ~0; ``nan`` when not run).
    """

    model: str
    dataset: str
    split: str
    suite: str
    n: int
    seed: int
    clean_accuracy: float
    eps: tuple[float, ...]
    attacks: tuple[AttackScore, ...]
    worst_case: tuple[float, ...]
    unbounded_accuracy: float
    sanity: tuple[SanityCheck, ...]
    skipped: dict = field(default_factory=dict)
    defence: str | None = None
    threat_model: str = "Linf"
    eps_unit: str = EPS_UNIT
    seconds: float = 0.0
    versions: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every sanity check passed."""
        return all(c.passed for c in self.sanity)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_nan_safe)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json` atomically to ``path``."""
        from ecg_art.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(self.to_json() + "\n")
        return Path(path)

    def curve_rows(self) -> list[dict[str, Any]]:
        """Rows ``{attack, eps, adv_accuracy, clean_accuracy}`` for :func:`robustness_curve_figure` (worst case
        included)."""
        rows = [{"attack": a.label, "eps": e, "adv_accuracy": acc, "clean_accuracy": self.clean_accuracy}
                for a in self.attacks for e, acc in zip(a.eps, a.robust_accuracy)]
        rows += [{"attack": "worst case", "eps": e, "adv_accuracy": acc} for e, acc in zip(self.eps, self.worst_case)]
        return rows

    def table(self) -> str:
        """A markdown table: one row per attack, one column per eps, accuracies in %."""
        head = "| attack | " + " | ".join(f"eps={e:g}" for e in self.eps) + " |"
        sep = "|---|" + "---|" * len(self.eps)
        rows = [f"| {a.label} | " + " | ".join(f"{100 * v:.1f}" for v in a.robust_accuracy) + " |"
                for a in self.attacks]
        rows.append("| **worst case** | " + " | ".join(f"**{100 * v:.1f}**" for v in self.worst_case) + " |")
        return "\n".join([head, sep, *rows])


def _nan_safe(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    out = {"python": platform.python_version()}
    for dist in _PACKAGES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


#: Registered names of the standard AutoAttack (:func:`ecg_art.attacks.ta_attacks.ta_autoattack`).
AUTOATTACK_NAMES = ("autoattack", "ta-autoattack")


def _autoattack_component(score: AttackScore) -> bool:
    """Whether ``score`` is a standalone run of one of AutoAttack's components: APGD-CE or Square."""
    return (score.attack == "ta-apgd" and score.kwargs.get("loss", "ce") == "ce") or score.attack == "ta-square"


def sanity_checks(attacks: tuple[AttackScore, ...], worst_case: tuple[float, ...], *, eps: tuple[float, ...],
                  clean_accuracy: float,
                  unbounded_accuracy: float, tolerance: float,
                  unbounded_max_accuracy: float) -> tuple[SanityCheck, ...]:
    """The checks a careful reviewer runs on a robustness table.

    * ``monotone_in_eps/<attack>``: accuracy does not grow with eps (beyond ``tolerance``);
    * ``pgd-100<=pgd-20`` and ``pgd-20<=fgsm``: more iterations never help the model (beyond ``tolerance``);
    * ``autoattack<=components``: the standard AutoAttack is at most each of its component attacks that ran on its
      own (APGD-CE, Square; beyond ``tolerance``) — it runs them, and more, on the beats they leave;
    * ``worst_case<=each``: the ensemble is at most every attack and at most clean accuracy;
    * ``unbounded_attack``: PGD with a budget spanning the whole clip range reaches at most ``unbounded_max_accuracy``
      (otherwise gradients are masked or the attack is broken).

    Examples
    --------
    >>> a = AttackScore("fgsm", "fgsm", {}, (0.01, 0.1), (0.8, 0.5), 1.0)
    >>> checks = sanity_checks((a,), (0.8, 0.5), eps=(0.01, 0.1), clean_accuracy=0.9, unbounded_accuracy=0.0,
    ...                        tolerance=0.02, unbounded_max_accuracy=0.05)
    >>> [c.passed for c in checks]
    [True, True, True]
    """
    checks = []
    for a in attacks:
        order = np.argsort(a.eps)
        acc = np.asarray(a.robust_accuracy)[order]
        rises = [f"{a.eps[order[i]]:g}->{a.eps[order[i + 1]]:g}: {acc[i]:.3f}->{acc[i + 1]:.3f}"
                 for i in range(len(acc) - 1) if acc[i + 1] > acc[i] + tolerance]
        checks.append(SanityCheck(f"monotone_in_eps/{a.label}", not rises,
                                  "; ".join(rises) or "accuracy non-increasing in eps"))
    by_label = {a.label: a for a in attacks}
    for strong, weak in (("pgd-100", "pgd-20"), ("pgd-20", "fgsm")):
        if strong in by_label and weak in by_label:
            s, w = by_label[strong], by_label[weak]
            bad = [f"eps={e:g}: {s.at(e):.3f} > {w.at(e):.3f}" for e in s.eps
                   if e in w.eps and s.at(e) > w.at(e) + tolerance]
            checks.append(SanityCheck(f"{strong}<={weak}", not bad, "; ".join(bad) or f"{strong} at most {weak}"))
    for aa in (a for a in attacks if a.attack in AUTOATTACK_NAMES):
        parts = [a for a in attacks if _autoattack_component(a)]
        if parts:
            bad = [f"eps={e:g}: {aa.at(e):.3f} > {p.label} {p.at(e):.3f}" for p in parts for e in aa.eps
                   if e in p.eps and aa.at(e) > p.at(e) + tolerance]
            checks.append(SanityCheck(f"{aa.label}<=components", not bad, "; ".join(bad) or
                                      f"{aa.label} at most {', '.join(p.label for p in parts)}"))
    bad = [f"eps={e:g} above {a.label}" for a in attacks for e, acc in zip(a.eps, a.robust_accuracy)
           if worst_case[eps.index(e)] > acc + 1e-12]
    bad += [f"eps={e:g} above clean" for e, w in zip(eps, worst_case) if w > clean_accuracy + 1e-12]
    checks.append(SanityCheck("worst_case<=each", not bad, "; ".join(bad) or "ensemble at most every attack"))
    if not np.isnan(unbounded_accuracy):
        ok = unbounded_accuracy <= unbounded_max_accuracy
        checks.append(SanityCheck("unbounded_attack", ok, f"PGD over the whole clip range: accuracy "
                                  f"{unbounded_accuracy:.3f} (must be <= {unbounded_max_accuracy:g})"
                                  + ("" if ok else "; gradients may be masked")))
    return tuple(checks)


def benchmark_figure(record: BenchmarkRecord):
    """Robust accuracy against eps, one line per attack plus the worst case (a ``matplotlib`` Figure).

    Examples
    --------
    >>> a = AttackScore("fgsm", "fgsm", {}, (0.01, 0.1), (0.8, 0.5), 1.0)
    >>> r = BenchmarkRecord("m", "d", "s", "quick", 10, 0, 0.9, (0.01, 0.1), (a,), (0.8, 0.5), 0.0, ())
    >>> len(benchmark_figure(r).axes)
    1
    """
    from ecg_art.evaluation.plots import robustness_curve_figure

    title = f"{record.model}{' + ' + record.defence if record.defence else ''} ({record.suite} suite, n={record.n})"
    return robustness_curve_figure(record.curve_rows(), title=title)
