"""Attack suites of :func:`ecg_art.evaluation.benchmark`: named lists of (label, attack, hyper-parameters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ecg_art.evaluation.cw_linf import cw_linf
from ecg_art.exceptions import ConfigError

__all__ = ["SuiteEntry", "SUITES", "get_suite"]


@dataclass(frozen=True)
class SuiteEntry:
    """One attack of a suite.

    ``attack`` is a registered attack name (:func:`ecg_art.attacks.get_attack`) or a factory with the registry
    signature ``(classifier, *, eps, batch_size, **kw)``. ``min_norm``: the attack ignores ``eps`` (C&W-L2, DeepFool);
    it runs once and its result is projected onto each eps-ball before scoring, so only perturbations within the budget
    count.
    """

    label: str
    attack: str | Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    min_norm: bool = False
    note: str = ""

    @property
    def attack_name(self) -> str:
        return self.attack if isinstance(self.attack, str) else f"{self.attack.__module__}.{self.attack.__name__}"


SUITES: dict[str, tuple[SuiteEntry, ...]] = {
    "standard": (
        SuiteEntry("fgsm", "fgsm"),
        SuiteEntry("pgd-20", "pgd", {"max_iter": 20}),
        SuiteEntry("pgd-100", "pgd", {"max_iter": 100}),
        SuiteEntry("apgd-ce", "ta-apgd", {"steps": 100}),
        SuiteEntry("apgd-dlr", "ta-apgd-dlr", {"steps": 100}),
        SuiteEntry("cw-linf", cw_linf, {"max_iter": 100},
                   note="L-inf PGD on the Carlini-Wagner margin loss (bounded), not ART's minimum-norm "
                        "CarliniLInfMethod"),
        SuiteEntry("deepfool", "ta-deepfool", {"steps": 50}, min_norm=True,
                   note="minimum-norm L2 DeepFool, projected onto each L-inf ball"),
        SuiteEntry("square", "ta-square", {"n_queries": 1000}, note="score-based black box (gradient-free)"),
        SuiteEntry("sap", "sap"),
        SuiteEntry("autoattack", "autoattack",
                   note="standard AutoAttack (Croce & Hein 2020): APGD-CE, APGD-T, FAB-T, Square 5,000 queries; "
                        "100 steps"),
    ),
    "quick": (
        SuiteEntry("fgsm", "fgsm"),
        SuiteEntry("pgd-20", "pgd", {"max_iter": 20}),
        SuiteEntry("apgd-ce", "ta-apgd", {"steps": 10}),
        SuiteEntry("sap", "sap", {"pgd_iter": 10}),
    ),
}


def get_suite(suite: str | tuple[SuiteEntry, ...] | list[SuiteEntry]) -> tuple[SuiteEntry, ...]:
    """The entries of suite ``suite`` (a name in :data:`SUITES`, or entries given directly).

    Examples
    --------
    >>> [e.label for e in get_suite("quick")]
    ['fgsm', 'pgd-20', 'apgd-ce', 'sap']
    """
    if isinstance(suite, str):
        key = suite.strip().lower()
        if key not in SUITES:
            raise ConfigError(f"unknown `suite` {suite!r}; known: {', '.join(sorted(SUITES))}")
        return SUITES[key]
    entries = tuple(suite)
    if not entries or not all(isinstance(e, SuiteEntry) for e in entries):
        raise ConfigError("`suite` must be a suite name or a non-empty sequence of SuiteEntry")
    labels = [e.label for e in entries]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"`suite` labels must be unique, got {labels}")
    return entries
