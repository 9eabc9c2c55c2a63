"""Defences: third-party ART defences loaded by import path and applied to a classifier, and ECG-specific defences."""

from ecg_art.defences.bandpass import BandpassFilter, bandpass_beats
from ecg_art.defences.loading import DeferredDefence, apply_defence, defence_kind, load_defence

__all__ = ["BandpassFilter", "DeferredDefence", "apply_defence", "bandpass_beats", "defence_kind", "load_defence"]
