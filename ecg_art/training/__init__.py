"""Training: epoch-wise fitting with any ART trainer, validation-only model selection, checkpoints and resume."""

from ecg_art.training.fit import TrainHistory, class_weights_from_labels, fit_classifier, seed_everything

__all__ = ["TrainHistory", "class_weights_from_labels", "fit_classifier", "seed_everything"]
