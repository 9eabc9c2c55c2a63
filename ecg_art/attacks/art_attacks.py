"""ART evasion attacks registered by name: FGSM and PGD (L-inf), batched with ``batch_size``."""

from __future__ import annotations

from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

from ecg_art.attacks.registry import register_attack
from ecg_art.exceptions import ConfigError

__all__ = ["fgsm", "pgd", "pgd_100"]


def fgsm(classifier, *, eps: float, batch_size: int = 256, targeted: bool = False) -> FastGradientMethod:
    """ART ``FastGradientMethod`` (L-inf, one step of size ``eps``). Goodfellow et al., arXiv:1412.6572."""
    return FastGradientMethod(classifier, norm="inf", eps=eps, eps_step=eps, targeted=targeted,
                              batch_size=batch_size)


def pgd(
    classifier,
    *,
    eps: float,
    batch_size: int = 256,
    max_iter: int = 20,
    eps_step: float | None = None,
    num_random_init: int = 0,
    targeted: bool = False,
    verbose: bool = False,
) -> ProjectedGradientDescent:
    """ART ``ProjectedGradientDescent`` (L-inf), step ``eps_step`` (``eps / 4`` when None). Madry et al.,
    arXiv:1706.06083."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ConfigError(f"`max_iter` must be a positive int, got {max_iter!r}")
    if isinstance(num_random_init, bool) or not isinstance(num_random_init, int) or num_random_init < 0:
        raise ConfigError(f"`num_random_init` must be an int >= 0, got {num_random_init!r}")
    step = eps / 4.0 if eps_step is None else float(eps_step)
    if not 0 < step < float("inf"):
        why = f"got {eps_step!r}" if eps_step is not None else f"the default `eps` / 4 = {step!r} (`eps`={eps!r})"
        raise ConfigError(f"`eps_step` must be a finite number > 0, {why}")
    return ProjectedGradientDescent(
        classifier, norm="inf", eps=eps, eps_step=step, max_iter=max_iter, targeted=targeted,
        num_random_init=num_random_init, batch_size=batch_size, verbose=verbose,
    )


def pgd_100(classifier, *, eps: float, batch_size: int = 256, **kwargs) -> ProjectedGradientDescent:
    """PGD with ``max_iter=100`` (other parameters as :func:`pgd`)."""
    kwargs.setdefault("max_iter", 100)
    return pgd(classifier, eps=eps, batch_size=batch_size, **kwargs)


register_attack("fgsm", fgsm)
register_attack("pgd", pgd)
register_attack("pgd-100", pgd_100)
