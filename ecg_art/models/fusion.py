"""Feature-fusion classifier: a 1D-CNN on the central crop + an MLP on 12 features re-extracted from the same input."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from ecg_art.exceptions import ConfigError
from ecg_art.models.cnn import conv_blocks
from ecg_art.features import FEATURE_NAMES, FeatureConfig, FeatureExtractor, FeatureNormalizer, check_windows
from ecg_art.features.record_rhythm import RECORD_RHYTHM_FEATURE_NAMES, RecordRhythmFeatures
from ecg_art.features.rhythm import RHYTHM_FEATURE_NAMES, RhythmBeatFeatures
from ecg_art.features.rpeaks import RPeakConfig

__all__ = ["FusionNet"]

logger = logging.getLogger(__name__)
_BRANCHES = ("cnn", "features", "head")
#: Feature sets: "window" = the 12 features of :class:`FeatureExtractor` on a 1024-sample context; "rhythm" = 5 rhythm
#: features from R peaks detected over the whole (long) context + 7 morphology features (:class:`RhythmBeatFeatures`);
#: "rhythm-record" = those 12 + 3 RR ratios to the recording's mean RR, carried by the input's last sample
#: (:class:`ecg_art.features.record_rhythm.RecordRhythmFeatures`; ``context_length`` counts that sample).
FEATURE_SETS = {"window": FEATURE_NAMES, "rhythm": RHYTHM_FEATURE_NAMES,
                "rhythm-record": RECORD_RHYTHM_FEATURE_NAMES}


class FusionNet(nn.Module):
    """CNN + physiological-feature fusion with ONE input: the context window around the beat.

    The CNN branch (conv blocks ``Conv1d -> BatchNorm1d -> ReLU -> MaxPool1d``, global average pooling and a dense
    layer, the shape of the baseline 1D-CNN) sees the crop ``[r_index - crop_r, r_index - crop_r + crop_length)``;
    the feature branch re-extracts the 12 features (:class:`ecg_art.features.FeatureExtractor`) from the whole
    window, standardises them (:class:`ecg_art.features.FeatureNormalizer`, fit with :meth:`fit_feature_normalizer`)
    and passes them through an MLP; the two embeddings are concatenated and a dense head gives the logits. An attack
    on the input therefore also moves the features. ``output="cnn"`` returns the CNN branch's own logits (stage 1 of
    two-stage training); ``feature_mode`` switches the extractor between ``"hard"`` (deployed), ``"soft"`` and
    ``"bpda"`` (adaptive attacks). With the defaults the network has 55,706 trainable parameters.

    Parameters
    ----------
    n_classes : int
        Width of the logits.
    context_length : int
        Samples per input window ``L``; inputs have shape ``(N, 1, L)``.
    r_index : int
        Index of the beat's R peak in the window.
    crop_length, crop_r : int
        Length of the CNN crop and position of the R peak in it (the baseline beat window).
    fs : float
        Sampling rate (Hz), known to the extractor.
    feature_mode : {"hard", "soft", "bpda"}
        Feature-extractor mode.
    output : {"fusion", "cnn"}
        Which logits ``forward`` returns.
    channels, kernel_sizes : tuple of int
        Conv blocks of the CNN branch.
    pool_size : int
        Max-pooling window after each conv block.
    cnn_hidden : int
        Width of the CNN embedding (dense layer after pooling).
    feature_hidden : tuple of int
        Hidden widths of the feature MLP (the last is the feature embedding).
    fusion_hidden : int
        Width of the fusion dense layer.
    dropout : float
        Dropout before each output layer.
    feature_config : FeatureConfig, optional
        Extractor windows and temperatures.
    feature_set : {"window", "rhythm", "rhythm-record"}
        Which features (:data:`FEATURE_SETS`). ``"rhythm"`` expects a long context (e.g. 10 s before the beat
        and 2 s after) scaled in the unit of the beat's own window, so the crop is exactly the baseline's input;
        ``"rhythm-record"`` the same context followed by one sample holding the recording's mean RR in seconds.
    rpeak_config : RPeakConfig, optional
        R-peak detector of the ``"rhythm"`` set.

    Shape
    -----
    input ``(N, 1, context_length)`` float32 -> logits ``(N, n_classes)``.

    Examples
    --------
    >>> from ecg_art.models.cnn import count_parameters
    >>> _ = torch.manual_seed(0)
    >>> model = FusionNet().eval()
    >>> model(torch.rand(2, 1, 1024)).shape, count_parameters(model)
    (torch.Size([2, 5]), 55706)
    """

    def __init__(
        self,
        *,
        n_classes: int = 5,
        context_length: int = 1024,
        r_index: int = 512,
        crop_length: int = 256,
        crop_r: int = 90,
        fs: float = 360.0,
        feature_mode: str = "hard",
        output: str = "fusion",
        channels: tuple[int, ...] = (16, 32, 64, 64),
        kernel_sizes: tuple[int, ...] = (7, 5, 5, 5),
        pool_size: int = 2,
        cnn_hidden: int = 128,
        feature_hidden: tuple[int, ...] = (48, 32),
        fusion_hidden: int = 64,
        dropout: float = 0.2,
        feature_config: FeatureConfig | None = None,
        feature_set: str = "window",
        rpeak_config: RPeakConfig | None = None,
    ) -> None:
        super().__init__()
        if n_classes < 2:
            raise ConfigError(f"`n_classes` must be >= 2, got {n_classes!r}")
        if not 0 <= crop_r < crop_length:
            raise ConfigError(f"`crop_r` must be in [0, crop_length), got {crop_r!r}")
        start = r_index - crop_r
        if start < 0 or start + crop_length > context_length:
            raise ConfigError(
                f"the crop [{start}, {start + crop_length}) must lie inside the context of length {context_length}; "
                f"check `r_index`={r_index}, `crop_r`={crop_r}, `crop_length`={crop_length}"
            )
        if len(channels) != len(kernel_sizes) or not channels:
            raise ConfigError(f"`kernel_sizes` must have one entry per conv block ({len(channels)}), got {kernel_sizes}")
        if not feature_hidden:
            raise ConfigError("`feature_hidden` must hold at least one width")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"`dropout` must be in [0, 1), got {dropout!r}")
        self.n_classes, self.context_length, self.r_index = n_classes, context_length, r_index
        self.crop = (start, start + crop_length)
        self.output = output

        layers, c_in = conv_blocks(channels, kernel_sizes, input_length=crop_length, pool_size=pool_size)
        self.cnn = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(c_in, cnn_hidden),
                                 nn.ReLU(inplace=True))
        self.cnn_out = nn.Sequential(nn.Dropout(dropout), nn.Linear(cnn_hidden, n_classes))

        if feature_set not in FEATURE_SETS:
            raise ConfigError(f"`feature_set` must be one of {tuple(FEATURE_SETS)}, got {feature_set!r}")
        self.feature_set = feature_set
        self.feature_names = FEATURE_SETS[feature_set]
        if feature_set == "window":
            self.extractor = FeatureExtractor(fs=fs, r_index=r_index, mode=feature_mode, config=feature_config)
        else:
            cls = RhythmBeatFeatures if feature_set == "rhythm" else RecordRhythmFeatures
            self.extractor = cls(fs=fs, r_index=r_index, mode=feature_mode, rpeak_config=rpeak_config,
                                 feature_config=feature_config)
        self.normalizer = FeatureNormalizer(n_features=len(self.feature_names))
        mlp: list[nn.Module] = []
        f_in = len(self.feature_names)
        for width in feature_hidden:
            mlp += [nn.Linear(f_in, width), nn.ReLU(inplace=True)]
            f_in = width
        self.feature_mlp = nn.Sequential(*mlp)
        self.head = nn.Sequential(nn.Linear(cnn_hidden + f_in, fusion_hidden), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(fusion_hidden, n_classes))
        self._frozen: set[str] = set()

    # --- attributes switchable at attack / training time
    @property
    def feature_mode(self) -> str:
        return self.extractor.mode

    @feature_mode.setter
    def feature_mode(self, value: str) -> None:
        self.extractor.mode = value

    @property
    def output(self) -> str:
        return self._output

    @output.setter
    def output(self, value: str) -> None:
        if value not in ("fusion", "cnn"):
            raise ConfigError(f"`output` must be 'fusion' or 'cnn', got {value!r}")
        self._output = value

    def _branch_modules(self, name: str) -> list[nn.Module]:
        if name not in _BRANCHES:
            raise ConfigError(f"`branch` must be one of {_BRANCHES}, got {name!r}")
        return {"cnn": [self.cnn, self.cnn_out], "features": [self.feature_mlp], "head": [self.head]}[name]

    def freeze(self, *branches: str) -> "FusionNet":
        """Stop training the given branches (``"cnn"``, ``"features"``, ``"head"``): no gradients, BN in eval mode."""
        for name in branches:
            for module in self._branch_modules(name):
                module.requires_grad_(False)
                module.eval()
            self._frozen.add(name)
        return self

    def unfreeze(self, *branches: str) -> "FusionNet":
        """Train the given branches again (all three when none are named)."""
        for name in branches or _BRANCHES:
            for module in self._branch_modules(name):
                module.requires_grad_(True)
                module.train(self.training)
            self._frozen.discard(name)
        return self

    def train(self, mode: bool = True) -> "FusionNet":
        super().train(mode)
        for name in self._frozen:  # frozen branches keep their BatchNorm statistics
            for module in self._branch_modules(name):
                module.eval()
        return self

    def load_cnn_branch(self, baseline_state: dict) -> "FusionNet":
        """Start the CNN branch (and its ``cnn_out`` head) from a :class:`ecg_art.models.cnn.BaselineCNN` state dict
        of the same shape, e.g. the AT+NSR model's selected weights."""
        mapped = {}
        for key, value in baseline_state.items():
            head, _, rest = key.partition(".")
            if head == "features":
                mapped[f"cnn.{rest}"] = value
            elif key.startswith("head.1."):
                mapped[f"cnn.{len(self.cnn) - 2}.{key.split('.')[-1]}"] = value
            elif key.startswith("head.4."):
                mapped[f"cnn_out.1.{key.split('.')[-1]}"] = value
        own = {k: v for k, v in self.state_dict().items() if k.startswith(("cnn.", "cnn_out."))}
        if set(mapped) != set(own) or any(mapped[k].shape != own[k].shape for k in own):
            raise ConfigError(f"the baseline state does not fit the CNN branch: "
                              f"missing {sorted(set(own) - set(mapped))[:4]}, unexpected "
                              f"{sorted(set(mapped) - set(own))[:4]}")
        self.load_state_dict(mapped, strict=False)
        return self

    @torch.no_grad()
    def fit_feature_normalizer(self, x, *, batch_size: int = 4096) -> np.ndarray:
        """Fit the feature standardisation on training context windows ``x`` (hard features); returns them."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x
        check_windows(x)
        mode, self.feature_mode = self.feature_mode, "hard"
        dev = self.normalizer.mean.device
        try:
            f = torch.cat([self.extractor(x[i: i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)])
        finally:
            self.feature_mode = mode
        self.normalizer.fit(f.double().numpy())
        logger.info("fitted the feature normaliser on %d windows", len(f))
        return f.numpy()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised features ``(N, n_features)`` of a batch of windows (current ``feature_mode``)."""
        return self.normalizer(self.extractor(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != 1 or x.shape[2] != self.context_length:
            raise ConfigError(f"FusionNet expects input of shape (N, 1, {self.context_length}), got {tuple(x.shape)}")
        emb = self.cnn(x[..., self.crop[0]: self.crop[1]])
        if self.output == "cnn":
            return self.cnn_out(emb)
        return self.head(torch.cat([emb, self.feature_mlp(self.features(x))], dim=-1))
