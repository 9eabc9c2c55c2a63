"""noise stage of ecg_art: real ECG noise (NSTDB ``bw`` / ``ma``) and white Gaussian noise mixed into beats at an SNR
of the NSTDB definition, the noise stress test of a classifier, and training under noise."""

from ecg_art.noise.augment import GaussianAugmentationTrainer, NoiseAugmentationTrainer
from ecg_art.noise.evaluate import STRESS_SNRS_DB, NoiseResult, noise_robustness
from ecg_art.noise.plots import noise_robustness_figure
from ecg_art.noise.snr import add_noise, minmax, noise_rms, nst_gain, nst_snr_db, qrs_amplitude
from ecg_art.noise.sources import NOISE_KINDS, PARTS, NoiseDraw, NoiseSource, noise_source

__all__ = [
    "NOISE_KINDS",
    "PARTS",
    "STRESS_SNRS_DB",
    "NoiseSource",
    "NoiseDraw",
    "NoiseResult",
    "noise_source",
    "add_noise",
    "minmax",
    "noise_rms",
    "nst_gain",
    "nst_snr_db",
    "qrs_amplitude",
    "noise_robustness",
    "noise_robustness_figure",
    "NoiseAugmentationTrainer",
    "GaussianAugmentationTrainer",
]
