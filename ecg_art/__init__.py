"""ecg_art: adversarial robustness of ECG heartbeat classifiers on MIT-BIH, as an adapter on top of ART and
torchattacks (attacks, defences, feature fusion, detection, MLflow tracking)."""

from ecg_art.exceptions import EcgArtError, EcgArtWarning

__version__ = "0.1.0"
__all__ = ["EcgArtError", "EcgArtWarning", "__version__"]
