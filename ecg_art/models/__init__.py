"""Models: the baseline 1D-CNN heartbeat classifier and the name -> factory model registry."""

from ecg_art.models.cnn import BaselineCNN, count_parameters
from ecg_art.models.fusion import FusionNet
from ecg_art.models.registry import get_model, list_models, register_model

register_model("fusion", FusionNet)

__all__ = ["BaselineCNN", "FusionNet", "count_parameters", "get_model", "list_models", "register_model"]
