"""torchattacks attacks registered by name ("ta-*"), run on beats through :class:`TorchattacksAdapter`.

Step sizes and learning rates are given in beat units and converted with the adapter's ``[0, 1]`` mapping.
"""

from __future__ import annotations

import torchattacks

from ecg_art.attacks.registry import register_attack
from ecg_art.attacks.torchattacks_adapter import TorchattacksAdapter
from ecg_art.exceptions import ConfigError

__all__ = [
    "ta_fgsm", "ta_pgd", "ta_apgd", "ta_apgd_dlr", "ta_cw_l2", "ta_deepfool", "ta_square", "ta_autoattack",
]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"`{name}` must be a positive int, got {value!r}")
    return value


def _span(classifier) -> float:
    lo, hi = classifier.clip_values if classifier.clip_values is not None else (0.0, 1.0)
    return float(hi) - float(lo)


def ta_fgsm(classifier, *, eps: float, batch_size: int = 256, verbose: bool = False) -> TorchattacksAdapter:
    """torchattacks ``FGSM`` (L-inf). Goodfellow et al., arXiv:1412.6572."""
    return TorchattacksAdapter(classifier, lambda m, e: torchattacks.FGSM(m, eps=e), eps=eps, name="ta-fgsm",
                               batch_size=batch_size, verbose=verbose)


def ta_pgd(
    classifier, *, eps: float, batch_size: int = 256, steps: int = 20, alpha: float | None = None,
    random_start: bool = True, verbose: bool = False,
) -> TorchattacksAdapter:
    """torchattacks ``PGD`` (L-inf), step ``alpha`` in beat units (``eps / 4`` when None). arXiv:1706.06083."""
    steps = _positive_int("steps", steps)
    step = eps / 4.0 if alpha is None else float(alpha)
    if not 0 < step < float("inf"):
        why = f"got {alpha!r}" if alpha is not None else f"the default `eps` / 4 = {step!r} (`eps`={eps!r})"
        raise ConfigError(f"`alpha` must be a finite number > 0, {why}")
    step_unit = step / _span(classifier)
    return TorchattacksAdapter(
        classifier, lambda m, e: torchattacks.PGD(m, eps=e, alpha=step_unit, steps=steps, random_start=random_start),
        eps=eps, name="ta-pgd", batch_size=batch_size, verbose=verbose,
    )


def ta_apgd(
    classifier, *, eps: float, batch_size: int = 256, steps: int = 20, n_restarts: int = 1, loss: str = "ce",
    seed: int = 0, verbose: bool = False,
) -> TorchattacksAdapter:
    """torchattacks ``APGD`` (L-inf) with cross-entropy (``loss="ce"``) or DLR loss. Croce & Hein, arXiv:2003.01690."""
    steps, n_restarts = _positive_int("steps", steps), _positive_int("n_restarts", n_restarts)
    if loss not in ("ce", "dlr"):
        raise ConfigError(f"`loss` must be 'ce' or 'dlr', got {loss!r}")
    return TorchattacksAdapter(
        classifier,
        lambda m, e: torchattacks.APGD(m, norm="Linf", eps=e, steps=steps, n_restarts=n_restarts, seed=seed, loss=loss),
        eps=eps, name="ta-apgd" if loss == "ce" else "ta-apgd-dlr", batch_size=batch_size, verbose=verbose,
    )


def ta_apgd_dlr(classifier, *, eps: float, batch_size: int = 256, **kwargs) -> TorchattacksAdapter:
    """APGD with the DLR loss (needs >= 3 classes)."""
    if classifier.nb_classes < 3:
        raise ConfigError(f"ta-apgd-dlr needs >= 3 classes, the classifier has `nb_classes`={classifier.nb_classes}")
    return ta_apgd(classifier, eps=eps, batch_size=batch_size, loss="dlr", **kwargs)


def ta_cw_l2(
    classifier, *, eps: float, batch_size: int = 256, c: float = 1.0, kappa: float = 0.0, steps: int = 50,
    lr: float = 0.01, verbose: bool = False,
) -> TorchattacksAdapter:
    """torchattacks ``CW`` — Carlini & Wagner **L2** (minimum-norm: ``eps`` is ignored, not an L-inf bound).

    ``lr`` is the Adam step on the ``[0, 1]``-mapped beats. arXiv:1608.04644.
    """
    steps = _positive_int("steps", steps)
    return TorchattacksAdapter(
        classifier, lambda m, e: torchattacks.CW(m, c=c, kappa=kappa, steps=steps, lr=lr),
        eps=eps, name="ta-cw-l2", batch_size=batch_size, bounded=False, verbose=verbose,
    )


def ta_deepfool(
    classifier, *, eps: float, batch_size: int = 256, steps: int = 50, overshoot: float = 0.02,
    verbose: bool = False,
) -> TorchattacksAdapter:
    """torchattacks ``DeepFool`` (minimum-norm L2: ``eps`` is ignored; loops over beats one by one, so slow).
    Moosavi-Dezfooli et al., arXiv:1511.04599."""
    steps = _positive_int("steps", steps)
    return TorchattacksAdapter(
        classifier, lambda m, e: torchattacks.DeepFool(m, steps=steps, overshoot=overshoot),
        eps=eps, name="ta-deepfool", batch_size=batch_size, bounded=False, verbose=verbose,
    )


def ta_square(
    classifier, *, eps: float, batch_size: int = 256, n_queries: int = 1000, n_restarts: int = 1,
    p_init: float = 0.8, seed: int = 0, verbose: bool = False,
) -> TorchattacksAdapter:
    """torchattacks ``Square`` (L-inf, score-based black box). Andriushchenko et al., arXiv:1912.00049."""
    n_queries, n_restarts = _positive_int("n_queries", n_queries), _positive_int("n_restarts", n_restarts)
    return TorchattacksAdapter(
        classifier,
        lambda m, e: torchattacks.Square(m, norm="Linf", eps=e, n_queries=n_queries, n_restarts=n_restarts,
                                         p_init=p_init, seed=seed),
        eps=eps, name="ta-square", batch_size=batch_size, verbose=verbose,
    )


def ta_autoattack(
    classifier, *, eps: float, batch_size: int = 256, steps: int = 100, n_queries: int = 5000, seed: int = 0,
    verbose: bool = False,
) -> TorchattacksAdapter:
    """Standard AutoAttack (L-inf), Croce & Hein, ICML 2020, arXiv:2003.01690, as in their ``version="standard"``.

    APGD-CE, then APGD-T (DLR-targeted, every other class as target), then FAB-T (every other class), then Square
    (``n_queries`` queries), each with one restart and ``steps`` iterations; each attack runs only on the beats the
    previous ones left correctly classified (torchattacks' ``MultiAttack``), so a beat counts robust only if all four
    fail. torchattacks' own ``AutoAttack`` class is not used: it builds its components with 10 steps, not the
    standard 100. Needs >= 4 classes (the targeted DLR loss reads the 4th-largest logit). On the adapter's
    ``(N, 1, 1, L)`` images Square's squares are windows of about ``sqrt(p L)`` samples (``p`` its schedule's
    fraction), as torchattacks sizes them for square images.

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> clf = make_classifier(BaselineCNN(input_length=64), input_length=64, device="cpu")
    >>> aa = ta_autoattack(clf, eps=0.05, steps=2, n_queries=10)
    >>> [type(a).__name__ for a in aa.attack.attacks]
    ['APGD', 'APGDT', 'FAB', 'Square']
    """
    steps, n_queries = _positive_int("steps", steps), _positive_int("n_queries", n_queries)
    n_classes = classifier.nb_classes
    if n_classes < 4:
        raise ConfigError(f"autoattack needs >= 4 classes (APGD-T's targeted DLR loss), the classifier has "
                          f"`nb_classes`={n_classes}")

    def build(m, e):
        common = {"norm": "Linf", "eps": e, "seed": seed, "n_restarts": 1}
        return torchattacks.MultiAttack([
            torchattacks.APGD(m, loss="ce", steps=steps, **common),
            torchattacks.APGDT(m, n_classes=n_classes, steps=steps, **common),
            torchattacks.FAB(m, multi_targeted=True, n_classes=n_classes, steps=steps, **common),
            torchattacks.Square(m, n_queries=n_queries, **common),
        ])

    return TorchattacksAdapter(classifier, build, eps=eps, name="autoattack", batch_size=batch_size, verbose=verbose)


ta_cw_l2.bounded = False  # type: ignore[attr-defined]
ta_deepfool.bounded = False  # type: ignore[attr-defined]

for _name, _factory in (
    ("ta-fgsm", ta_fgsm), ("ta-pgd", ta_pgd), ("ta-apgd", ta_apgd), ("ta-apgd-dlr", ta_apgd_dlr),
    ("ta-cw-l2", ta_cw_l2), ("ta-deepfool", ta_deepfool), ("ta-square", ta_square),
    ("autoattack", ta_autoattack), ("ta-autoattack", ta_autoattack),  # one attack, two names
):
    register_attack(_name, _factory)
