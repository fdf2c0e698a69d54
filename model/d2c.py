"""The D2C model (paper Eq. 3): diffusion prior over latents + decoder, with the encoder q(z|x) for inference.

Inference API on a loaded model (images are N x 3 x H x W floats in [0, 1]):
``encode`` images -> latents, ``decode`` latents -> images, ``sample`` latents from the diffusion prior.
The diffusion correction of edited latents is ``model.manipulation.diffusion_correction``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from model.config import ModelConfig
from model.diffusion import alpha_schedule, ddim_alphas, ddim_sample, diffusion_loss
from model.networks import Decoder, Denoiser, Encoder

# steps and fresh-noise scale of prior samples; generation_fd with eta 1: 8.37 at 25 steps, 7.78 at 50, 7.20-7.44 at
# 100, 7.39 at 200; with eta 0 at 100 steps: 8.96-9.58 (1,000 samples, session 25; docs/experiments.md)
SAMPLE_STEPS = 100
SAMPLE_ETA = 1.0


class D2C(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.denoiser = Denoiser(config)
        self.register_buffer("schedule", alpha_schedule(config.diffusion_steps), persistent=False)

    @property
    def device(self) -> torch.device:
        return self.schedule.device

    def _check_images(self, images: torch.Tensor) -> None:
        size = self.config.resolution
        if images.dim() != 4 or images.shape[1:] != (3, size, size):
            raise ValueError(f"expected images of shape N x 3 x {size} x {size}, got {tuple(images.shape)}")

    def _check_latents(self, latents: torch.Tensor) -> None:
        if latents.dim() != 4 or tuple(latents.shape[1:]) != self.config.latent_shape:
            raise ValueError(f"expected latents of shape N x {self.config.latent_shape}, got {tuple(latents.shape)}")
        if not torch.isfinite(latents).all():
            raise ValueError("latents contain NaN or infinite values")

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Posterior means z^(1) = E[q(z|x)] for images in [0, 1]."""
        self._check_images(images)
        mean, _ = self.encoder(images.to(self.device, torch.float32))
        return mean.contiguous()  # a channels_last model's outputs are laid out channels_last

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Decoder means for latents z^(1), as images in [0, 1]."""
        self._check_latents(latents)
        return self.decoder(latents.to(self.device, torch.float32)).contiguous()

    @torch.no_grad()
    def sample(
        self,
        count: int,
        steps: int = SAMPLE_STEPS,
        generator: torch.Generator | None = None,
        eta: float = SAMPLE_ETA,
    ) -> torch.Tensor:
        """Latents z^(1) drawn from the diffusion prior: z^(0) ~ N(0, I), then DDIM (paper Eq. 3) with fresh noise
        at each step (`eta`, Song et al. 2021 Eq. 16; 1 is the ancestral sampler, whose faces the oracle finds
        closer to real ones than deterministic DDIM's).

        The prior models posterior samples z = mean + std * eps, not means: in the shipped model the channels the
        decoder ignores (9 of 16) keep the largest std the encoder allows, so a sample's RMS is about 2.3 where a
        mean's is 1. DDIM's clean estimates
        are therefore not projected onto unit RMS, which shrank the channels that draw the face (see README,
        "Generation quality"). Classifiers fitted on encoded photos read a sample through `reencode`.
        """
        noise = torch.randn((count, *self.config.latent_shape), generator=generator, device=self.device)
        alphas = ddim_alphas(self.schedule, steps)
        return ddim_sample(self.denoiser, noise, alphas, eta=eta, generator=generator).contiguous()


@torch.no_grad()
def encode_all(model: D2C, images_uint8: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Posterior means of uint8 images (N x 3 x H x W), encoded `batch_size` at a time."""
    return torch.cat(
        [
            model.encode(images_uint8[start : start + batch_size].float() / 255)
            for start in range(0, len(images_uint8), batch_size)
        ]
    )


@torch.no_grad()
def decode_all(model: D2C, latents: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Decoded images in [0, 1] of latents, `batch_size` at a time, on the CPU."""
    return torch.cat([model.decode(latents[start : start + batch_size]).cpu()
                      for start in range(0, len(latents), batch_size)])


@dataclass
class D2CLoss:
    """L_D2C = L_D2 + lambda L_C (paper Eqs. 4 and 5), per example, in nats-like units.

    L_D2 = -log p(x|z) (Gaussian decoder with std pixel_sigma) + diffusion_weight * l_diff(z) (Eq. 2)
           - entropy_weight * H[q(z|x)]; the entropy term makes the latent a sample, not a point.
    """

    pixel_sigma: float = 0.1  # decoder std in [0, 1] pixel units
    diffusion_weight: float = 1.0
    entropy_weight: float = 1.0
    contrastive_weight: float = 1.0  # lambda of Eq. 4

    def __call__(
        self, model: D2C, images: torch.Tensor, contrastive=None, query_images: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """`contrastive(mean)` scores the encoder's means of `query_images` (default: of `images` themselves)."""
        mean, log_var = model.encoder(images)
        latent = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        reconstruction = model.decoder(latent).float()
        squared_error = (reconstruction - images.float()).pow(2).flatten(1).sum(dim=1)
        terms = {
            "recon": squared_error / (2 * self.pixel_sigma**2),
            "diffusion": diffusion_loss(model.denoiser, latent, model.schedule),
            "entropy": 0.5 * (log_var.float() + math.log(2 * math.pi * math.e)).flatten(1).sum(dim=1),
            "mse": squared_error.detach() / images[0].numel(),
        }
        loss = terms["recon"] + self.diffusion_weight * terms["diffusion"] - self.entropy_weight * terms["entropy"]
        if contrastive is not None and self.contrastive_weight > 0:
            terms["contrastive"] = contrastive(mean if query_images is None else model.encoder(query_images)[0])
            loss = loss + self.contrastive_weight * terms["contrastive"]
        terms["loss"] = loss
        return {name: value.mean() for name, value in terms.items()}
