"""Rhythm features normalised by the recording's average RR interval: the record statistic of the inter-patient
literature (de Chazal et al. 2004 average RR over minutes), here the mean of every RR interval our R-peak detector
finds in the whole recording, handed to the model as one extra input value (in seconds) after the context.

Threat model: that value is an input like the context's samples, so in threat model (a) the attacker moves it within
eps too (eps 0.05 = +-50 ms on a mean RR of ~800 ms); an attacker of one beat's 12 s context could move a
30-minute mean by far less. Stated separately from the local-mean features (docs/features.md).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch

from ecg_art.exceptions import ConfigError
from ecg_art.features.rhythm import RHYTHM_FEATURE_NAMES, RhythmBeatFeatures
from ecg_art.features.rpeaks import RPeakConfig, detect_rpeaks

__all__ = ["RECORD_RHYTHM_NAMES", "RECORD_RHYTHM_FEATURE_NAMES", "RecordRhythmFeatures", "record_mean_rr",
           "append_record_rr"]

logger = logging.getLogger(__name__)

#: pre / post / local RR divided by the recording's mean RR.
RECORD_RHYTHM_NAMES: tuple[str, ...] = ("rr_pre_rec", "rr_post_rec", "rr_local_rec")
#: The "rhythm-record" feature set: the 12 of the "rhythm" set, then the 3 record-normalised ratios.
RECORD_RHYTHM_FEATURE_NAMES: tuple[str, ...] = RHYTHM_FEATURE_NAMES + RECORD_RHYTHM_NAMES


class RecordRhythmFeatures(RhythmBeatFeatures):
    """:class:`RhythmBeatFeatures` of the context plus pre / post / local RR over the recording's mean RR, which the
    input carries in its last ``tail`` samples (their mean, in seconds; see :func:`append_record_rr`).

    Shape
    -----
    ``(N, 1, L + tail)`` -> ``(N, 15)``, columns :data:`RECORD_RHYTHM_FEATURE_NAMES`.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> sig = nk.ecg_simulate(duration=12, sampling_rate=360, heart_rate=75, random_state=0)[:4320]
    >>> x = torch.as_tensor(np.append(sig, 0.8)[None, None], dtype=torch.float32)  # mean RR of the record: 0.8 s
    >>> f = RecordRhythmFeatures(r_index=3600)(x)
    >>> f.shape, bool(torch.isclose(f[0, 12], f[0, 0] / 0.8))
    (torch.Size([1, 15]), True)
    """

    def __init__(self, *, tail: int = 1, min_rr: float = 0.2, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(tail, int) or tail < 1:
            raise ConfigError(f"`tail` must be a positive int, got {tail!r}")
        if not min_rr > 0:
            raise ConfigError(f"`min_rr` must be positive, got {min_rr!r}")
        self.tail, self.min_rr = tail, min_rr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = super().forward(x[..., :-self.tail])
        mean_rr = x[..., -self.tail:].mean(-1).reshape(-1, 1).clamp_min(self.min_rr)
        return torch.cat([base, base[:, :3] / mean_rr], dim=-1)


def record_mean_rr(records, data_dir: str | os.PathLike | None = None, *, leads: dict[str, str] | None = None,
                   fs: float = 360.0, config: RPeakConfig | None = None, chunk_s: float = 12.0,
                   margin_s: float = 2.0) -> dict[str, float]:
    """Mean RR interval (s) of each recording, from :func:`detect_rpeaks` on the whole clean record (pauses and
    ectopic intervals included, as a recording's average RR is defined).

    Parameters
    ----------
    records : iterable of str
        Record names of ``data_dir``.
    leads : dict, optional
        Record -> lead name to read (e.g. the beats dataset's ``lead``); default MLII, else the first channel.
    """
    import wfdb

    from ecg_art.data.records import check_data_dir, read_lead

    path = check_data_dir(data_dir)
    out = {}
    for rec in sorted(set(records)):
        header = wfdb.rdheader(str(path / rec))
        want = (leads or {}).get(rec, "MLII")
        channel = header.sig_name.index(want) if want in header.sig_name else 0
        peaks = detect_rpeaks(read_lead(rec, path, channel), fs=fs, config=config, chunk_s=chunk_s, margin_s=margin_s)
        if len(peaks) < 2:
            raise ConfigError(f"record {rec!r}: fewer than two R peaks detected; no mean RR")
        out[rec] = float(np.diff(peaks).mean() / fs)
    logger.info("mean RR of %d records: %.3f-%.3f s", len(out), min(out.values()), max(out.values()))
    return out


def append_record_rr(x: np.ndarray, records: np.ndarray, mean_rr: dict[str, float], *, tail: int = 1) -> np.ndarray:
    """Context windows ``(N, 1, L)`` -> ``(N, 1, L + tail)`` with each beat's recording mean RR (s) appended.

    Examples
    --------
    >>> append_record_rr(np.zeros((2, 1, 3), np.float32), np.array(["a", "b"]), {"a": 0.8, "b": 1.2})[:, 0, -1]
    array([0.8, 1.2], dtype=float32)
    """
    x = np.asarray(x)
    records = np.asarray(records)
    if x.ndim != 3 or x.shape[1] != 1 or len(records) != len(x):
        raise ConfigError(f"`x` must be (N, 1, L) with one record name per window, got {x.shape} and "
                          f"{len(records)} names")
    if missing := sorted(set(records.tolist()) - set(mean_rr)):
        raise ConfigError(f"no mean RR for records {', '.join(missing[:5])}")
    values = np.array([mean_rr[r] for r in records], dtype=x.dtype)
    return np.concatenate([x, np.repeat(values[:, None, None], tail, axis=-1)], axis=-1)
