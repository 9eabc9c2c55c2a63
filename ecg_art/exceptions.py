"""Exception hierarchy of ecg_art: every error the package raises on purpose derives from :class:`EcgArtError`."""

from __future__ import annotations

__all__ = [
    "EcgArtError",
    "ConfigError",
    "DataError",
    "DataNotFoundError",
    "RecordError",
    "ChecksumError",
    "SplitError",
    "CacheError",
    "RegistryError",
    "AttackError",
    "CheckpointError",
    "TrackingError",
    "EcgArtWarning",
]


class EcgArtError(Exception):
    """Base class of every error raised on purpose by ecg_art."""


class ConfigError(EcgArtError, ValueError):
    """A parameter, profile or setting has a bad value; the message names it."""


class DataError(EcgArtError):
    """Something is wrong with the ECG data (directory, record, annotation)."""


class DataNotFoundError(DataError, FileNotFoundError):
    """The data directory or a record in it is missing (and could not be downloaded)."""


class RecordError(DataError):
    """A WFDB record is truncated, corrupt, or not what MIT-BIH should be (length, fs, leads, NaNs)."""


class ChecksumError(RecordError):
    """A record file does not match the SHA-256 listed in the directory's ``SHA256SUMS``."""


class SplitError(ConfigError):
    """An unknown split name or impossible split sizes."""


class CacheError(EcgArtError):
    """A cache file is unreadable, foreign or tampered with."""


class RegistryError(ConfigError, KeyError):
    """An unknown name was asked of a registry (model, attack, defence, recipe)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class AttackError(EcgArtError, ValueError):
    """An attack cannot run on the given estimator or inputs (e.g. inputs outside its domain)."""


class CheckpointError(EcgArtError):
    """A checkpoint is missing, foreign, tampered with, or does not fit the model."""


class TrackingError(EcgArtError):
    """The MLflow tracking store cannot be reached or refused a write."""


class EcgArtWarning(UserWarning):
    """Warnings emitted by ecg_art (e.g. beats dropped at record edges)."""
