"""Experiment tracking: the only part of ecg_art that imports MLflow (lazily), with a local fallback for every run."""

from ecg_art.tracking.environment import environment_info
from ecg_art.tracking.models import is_model_uri, load_logged_model
from ecg_art.tracking.offline import OfflineRun
from ecg_art.tracking.params import flatten_params
from ecg_art.tracking.query import delete_runs, find_runs, latest_experiment
from ecg_art.tracking.tracker import Tracker
from ecg_art.tracking.uri import repo_root, resolve_tracking_uri

__all__ = ["Tracker", "resolve_tracking_uri", "environment_info", "find_runs", "latest_experiment", "delete_runs",
           "flatten_params", "OfflineRun", "repo_root", "load_logged_model", "is_model_uri"]
