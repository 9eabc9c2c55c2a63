"""Feature-invariance summary over many attacks: per-feature shift and share of beats changed, RR vs morphology."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from ecg_art.exceptions import ConfigError
from ecg_art.features.config import FEATURE_NAMES
from ecg_art.features.extract import extract_features
from ecg_art.features.invariance import feature_shift

__all__ = ["RR_FEATURES", "MORPHOLOGY_FEATURES", "shift_summary", "shift_table", "shift_vs_eps_figure"]

#: Rhythm features (from the neighbouring R peaks) and morphology features (from the beat's own waveform).
RR_FEATURES: tuple[str, ...] = ("rr_pre", "rr_post", "rr_ratio", "rr_local")
MORPHOLOGY_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in RR_FEATURES)


def shift_summary(x_clean, adversarial: Mapping[str, np.ndarray], *, fs: float = 360.0, r_index: int = 512,
                  changed_tol: float = 0.1, names: tuple[str, ...] = FEATURE_NAMES) -> dict[str, dict]:
    """How much each attack moves each of the 12 (hard-mode) features.

    For every key of ``adversarial`` (e.g. ``"pgd@0.05"``): ``shift`` = :func:`feature_shift` (median ``|Δf|`` over
    the clean IQR), ``changed`` = share of beats with ``|Δf| > changed_tol * IQR`` (catches a minority of beats moved a
    lot, which the median hides), and the group summaries ``rr_shift`` / ``rr_changed`` (max over the RR features)
    and ``morph_shift`` / ``morph_changed`` (median over the morphology features).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(200, 12)).astype(np.float32)
    >>> g = f.copy(); g[:, 4:] += 1.0
    >>> s = shift_summary(f, {"toy": g})["toy"]
    >>> s["rr_shift"], s["morph_shift"] > 0.5
    (0.0, True)
    """
    if not changed_tol > 0:
        raise ConfigError(f"`changed_tol` must be > 0, got {changed_tol!r}")

    rr_names = [n for n in names if n.startswith("rr_")]  # rhythm features: named rr_* in every feature set
    morph_names = [n for n in names if n not in rr_names]

    def feats(x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2 and x.shape[1] == len(names):
            return x
        if tuple(names) != FEATURE_NAMES:
            raise ConfigError("features other than FEATURE_NAMES must be passed as (n, n_features) arrays")
        return extract_features(x, fs=fs, r_index=r_index)

    fc = feats(x_clean)
    q75, q25 = np.percentile(fc, [75, 25], axis=0)
    iqr = np.where(q75 - q25 > 0, q75 - q25, np.finfo(np.float32).eps)
    out: dict[str, dict] = {}
    for key, x_adv in adversarial.items():
        fa = feats(x_adv)
        shift = feature_shift(fc, fa, names=names)
        changed = dict(zip(names, (np.abs(fa - fc) > changed_tol * iqr).mean(axis=0).astype(float)))
        out[key] = {
            "shift": shift, "changed": changed,
            "rr_shift": max(shift[n] for n in rr_names), "rr_changed": max(changed[n] for n in rr_names),
            "morph_shift": float(np.median([shift[n] for n in morph_names])),
            "morph_changed": float(np.median([changed[n] for n in morph_names])),
        }
    return out


def shift_table(summary: Mapping[str, dict], *, value: str = "shift") -> str:
    """Markdown table: one row per feature (plus the RR / morphology summaries), one column per attack key.

    Examples
    --------
    >>> f = np.zeros((10, 12), np.float32)
    >>> shift_table(shift_summary(f, {"a": f})).splitlines()[0]
    '| feature | a |'
    """
    if value not in ("shift", "changed"):
        raise ConfigError(f"`value` must be 'shift' or 'changed', got {value!r}")
    keys = list(summary)
    lines = ["| feature | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name in next(iter(summary.values()))["shift"] if summary else ():
        lines.append(f"| {name} | " + " | ".join(f"{summary[k][value][name]:.3f}" for k in keys) + " |")
    for label, field in (("RR (max)", f"rr_{value}"), ("morphology (median)", f"morph_{value}")):
        lines.append(f"| **{label}** | " + " | ".join(f"{summary[k][field]:.3f}" for k in keys) + " |")
    return "\n".join(lines)


def shift_vs_eps_figure(summary: Mapping[str, dict], *, value: str = "shift") -> Figure:
    """One panel per attack (keys ``"<attack>@<eps>"``): each feature's shift against eps, RR solid, morphology dashed.

    Examples
    --------
    >>> f = np.zeros((10, 12), np.float32)
    >>> len(shift_vs_eps_figure(shift_summary(f, {"pgd@0.01": f, "pgd@0.05": f})).axes)
    1
    """
    by_attack: dict[str, list[tuple[float, dict]]] = {}
    for key, s in summary.items():
        attack, _, eps = key.rpartition("@")
        if not attack:
            raise ConfigError(f"`summary` keys must look like '<attack>@<eps>', got {key!r}")
        by_attack.setdefault(attack, []).append((float(eps), s))
    fig = Figure(figsize=(4 * len(by_attack), 3.5), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(1, len(by_attack), sharey=True))
    for ax, (attack, items) in zip(axes, by_attack.items()):
        items.sort(key=lambda t: t[0])
        eps = [e for e, _ in items]
        for name in items[0][1][value]:
            rr = name.startswith("rr_")
            ax.plot(eps, [s[value][name] for _, s in items], "-o" if rr else "--", lw=2 if rr else 1, label=name)
        ax.set_title(attack)
        ax.set_xlabel("eps (normalised beat unit)")
    axes[0].set_ylabel("median |Δf| / IQR" if value == "shift" else "share of beats changed")
    axes[-1].legend(fontsize=6, ncol=2)
    return fig
