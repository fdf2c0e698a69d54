"""Convolutional networks of D2C: encoder q(z|x), decoder p(x|z) and the latent noise network eps(z, alpha)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from model.config import ModelConfig


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, twice, with an optional per-channel conditioning shift."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, cond_dim: int = 0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.cond = nn.Linear(cond_dim, out_channels) if cond_dim else None
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.cond is not None:
            h = h + self.cond(cond)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Encoder(nn.Module):
    """Image in [0, 1] -> mean and log-variance of the Gaussian posterior over the spatial latent."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        widths = config.channels
        # a patch of p x p pixels becomes 3 p^2 channels, so the first level runs at 1/p of the resolution
        self.unshuffle = nn.PixelUnshuffle(config.patch_size)
        self.stem = nn.Conv2d(3 * config.patch_size**2, widths[0], 3, padding=1)
        layers: list[nn.Module] = []
        for level, width in enumerate(widths):
            in_width = widths[level - 1] if level else widths[0]
            if level:
                layers.append(nn.Conv2d(in_width, width, 3, stride=2, padding=1))
            layers += [ResBlock(width, width, config.groups) for _ in range(config.blocks_per_level)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.GroupNorm(config.groups, widths[-1]), nn.SiLU(), nn.Conv2d(widths[-1], 2 * config.latent_channels, 1)
        )

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.head(self.body(self.stem(self.unshuffle(image * 2 - 1))))
        mean, log_var = h.chunk(2, dim=1)
        return normalize_latent(mean), log_var.clamp(-12.0, 2.0)


def normalize_latent(latent: torch.Tensor) -> torch.Tensor:
    """Scale each latent to unit root-mean-square, so the diffusion loss cannot be lowered by shrinking it."""
    rms = latent.float().pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-6).sqrt()
    return latent / rms.to(latent.dtype)


class Decoder(nn.Module):
    """Spatial latent -> image in [0, 1] (the mean of the Gaussian p(x|z))."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        widths = config.channels[::-1]
        self.stem = nn.Conv2d(config.latent_channels, widths[0], 3, padding=1)
        layers: list[nn.Module] = []
        for level, width in enumerate(widths):
            in_width = widths[level - 1] if level else widths[0]
            if level:
                layers += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(in_width, width, 3, padding=1)]
            layers += [ResBlock(width, width, config.groups) for _ in range(config.blocks_per_level)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.GroupNorm(config.groups, widths[-1]),
            nn.SiLU(),
            nn.Conv2d(widths[-1], 3 * config.patch_size**2, 3, padding=1),
            nn.PixelShuffle(config.patch_size),
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.body(self.stem(latent))))


def noise_level_embedding(alpha: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of the log signal-to-noise ratio log(alpha / (1 - alpha))."""
    log_snr = torch.log(alpha.clamp(1e-7, 1 - 1e-7)) - torch.log1p(-alpha.clamp(1e-7, 1 - 1e-7))
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), dim // 2, device=alpha.device)) / 100.0
    angles = log_snr[:, None].float() * freqs[None] * 10.0
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class Denoiser(nn.Module):
    """eps_theta(z^(alpha), alpha): a small U-Net over the spatial latent (one down/up level)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        width, groups, cond = config.denoiser_channels, config.groups, 4 * config.denoiser_channels
        self.embed_dim = width
        self.embed = nn.Sequential(nn.Linear(width, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.stem = nn.Conv2d(config.latent_channels, width, 3, padding=1)
        self.down = nn.ModuleList([ResBlock(width, width, groups, cond) for _ in range(config.denoiser_blocks)])
        self.downsample = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.middle = nn.ModuleList(
            [ResBlock(2 * width, 2 * width, groups, cond) for _ in range(config.denoiser_blocks)]
        )
        self.upsample = nn.Sequential(
            nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(2 * width, width, 3, padding=1)
        )
        self.up = nn.ModuleList(
            [ResBlock(2 * width if i == 0 else width, width, groups, cond) for i in range(config.denoiser_blocks)]
        )
        self.head = nn.Sequential(
            nn.GroupNorm(groups, width), nn.SiLU(), nn.Conv2d(width, config.latent_channels, 3, padding=1)
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def _down_and_middle(
        self, noisy_latent: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(bottleneck activations, the skip at full latent resolution, the noise-level embedding)."""
        cond = self.embed(noise_level_embedding(alpha, self.embed_dim).to(noisy_latent.dtype))
        h = self.stem(noisy_latent)
        for block in self.down:
            h = block(h, cond)
        skip = h
        h = self.downsample(h)
        for block in self.middle:
            h = block(h, cond)
        return h, skip, cond

    def bottleneck(self, noisy_latent: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """The U-Net's lowest-resolution activations (after the middle blocks), (N, 2 width, H / 2, W / 2): what
        the prior reads of a latent at noise level alpha, used as features by model/teacher.py."""
        return self._down_and_middle(noisy_latent, alpha)[0]

    def forward(self, noisy_latent: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        h, skip, cond = self._down_and_middle(noisy_latent, alpha)
        h = torch.cat([self.upsample(h), skip], dim=1)
        for block in self.up:
            h = block(h, cond)
        return self.head(h)


class ProjectionHead(nn.Module):
    """MoCo-v2 MLP head: flattened latent mean -> L2-normalised embedding."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        latent_dim = math.prod(config.latent_shape)
        self.mlp = nn.Sequential(nn.Linear(latent_dim, 512), nn.SiLU(), nn.Linear(512, config.projection_dim))

    def forward(self, latent_mean: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(latent_mean.flatten(1)).float(), dim=1)
