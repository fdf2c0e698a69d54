"""Plain dataclass configs for the D2C model and its training run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass
class ModelConfig:
    resolution: int = 64  # image side in pixels (32 to 256, a power of two)
    channels: tuple[int, ...] = (32, 64, 128, 128)  # encoder widths per resolution level; decoder mirrors them
    patch_size: int = 1  # pixels per side folded into channels before the first level (pixel unshuffle), 1 or 2
    blocks_per_level: int = 1  # ResNet blocks per level in the encoder and decoder
    latent_channels: int = 16  # latent is latent_channels x latent_size x latent_size
    denoiser_channels: int = 64  # width of the latent U-Net
    denoiser_blocks: int = 2  # ResNet blocks per U-Net level
    diffusion_steps: int = 1000  # length T of the training noise schedule alpha_i
    projection_dim: int = 128  # MoCo projection head output size
    groups: int = 8  # GroupNorm groups

    @property
    def latent_size(self) -> int:
        return self.resolution // self.patch_size // 2 ** (len(self.channels) - 1)

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_channels, self.latent_size, self.latent_size)

    def validate(self) -> None:
        if self.resolution not in (32, 64, 128, 256):
            raise ValueError(f"resolution must be one of 32, 64, 128, 256, got {self.resolution}")
        if self.patch_size not in (1, 2, 4):
            raise ValueError(f"patch_size must be 1, 2 or 4, got {self.patch_size}")
        if self.latent_size < 2:
            raise ValueError(
                f"{len(self.channels)} levels leave a latent smaller than 2x2 at resolution {self.resolution}"
            )
        if any(width % self.groups for width in (*self.channels, self.denoiser_channels)):
            raise ValueError(f"every width must be divisible by groups={self.groups}")


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 32
    learning_rate: float = 1e-3  # peak Adam learning rate (after warmup)
    warmup_steps: int = 200
    weight_decay: float = 0.0
    ema_decay: float = 0.998  # per step, for the shipped weights
    pixel_sigma: float = 0.1  # std of the Gaussian decoder p(x|z), in [0, 1] pixel units
    diffusion_weight: float = 1.0  # weight of l_diff (Eq. 2) in L_D2 (Eq. 5)
    entropy_weight: float = 1.0  # weight of the posterior entropy that keeps q(z|x) a proper Gaussian
    contrastive_weight: float = 1.0  # lambda of Eq. 4 (0 turns the contrastive term off)
    moco_queue: int = 4096  # negatives kept by MoCo
    moco_momentum: float = 0.995  # momentum-encoder EMA per step
    moco_temperature: float = 0.2
    moco_augment_query: bool = False  # the query is a second augmented view (True) or the clean image (False)
    checkpoint_minutes: float = 5.0  # wall time between checkpoints
    seed: int = 0
    max_steps: int = 0  # 0 means no step limit (stop with --max-minutes or Ctrl-C)


def _from_dict(cls, values: dict):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**values)


def model_config_from_dict(values: dict) -> ModelConfig:
    values = dict(values)
    if "channels" in values:
        values["channels"] = tuple(values["channels"])
    config = _from_dict(ModelConfig, values)
    config.validate()
    return config


def train_config_from_dict(values: dict) -> TrainConfig:
    values = dict(values)
    model = model_config_from_dict(values.pop("model", {}))
    return _from_dict(TrainConfig, {**values, "model": model})


def load_train_config(path: str | Path | None) -> TrainConfig:
    if path is None:
        return TrainConfig()
    return train_config_from_dict(json.loads(Path(path).read_text()))


def to_dict(config) -> dict:
    return asdict(config)
