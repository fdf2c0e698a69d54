"""MoCo-v2 contrastive term L_C of paper Eq. 4: momentum encoder, queue of negatives, InfoNCE, face augmentations."""

from __future__ import annotations

import copy
import math

import torch
from torch import distributed as dist
from torch import nn
from torch.nn import functional as F


def face_augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch in [0, 1] the way faces tolerate: mild resized crop, flip, colour jitter, grayscale, blur.

    Crops keep 65-100% of the area so the face stays in frame; hue is left alone so that hair and lipstick
    colour (attributes users ask for) remain information the contrastive task can use.
    """
    n, device = images.shape[0], images.device

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.rand((n, *shape), device=device, generator=generator) * (high - low) + low

    scale = uniform(0.65, 1.0).sqrt()
    aspect = uniform(math.log(0.85), math.log(1.18)).exp().sqrt()
    sx, sy = scale * aspect, scale / aspect
    flip = torch.where(torch.rand(n, device=device, generator=generator) < 0.5, -1.0, 1.0)
    tx, ty = uniform(-1, 1) * (1 - sx), uniform(-1, 1) * (1 - sy)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 0, 2] = sx * flip, tx
    theta[:, 1, 1], theta[:, 1, 2] = sy, ty
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    jitter = (torch.rand(n, 1, 1, 1, device=device, generator=generator) < 0.8).float()
    brightness = 1 + jitter * uniform(-0.4, 0.4, 1, 1, 1)
    contrast = 1 + jitter * uniform(-0.4, 0.4, 1, 1, 1)
    saturation = 1 + jitter * uniform(-0.4, 0.4, 1, 1, 1)
    out = out * brightness
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * contrast + mean
    gray = (0.299 * out[:, :1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:3]).expand_as(out)
    out = (out - gray) * saturation + gray
    to_gray = (torch.rand(n, 1, 1, 1, device=device, generator=generator) < 0.2).float()
    out = to_gray * gray + (1 - to_gray) * out

    blur = (torch.rand(n, 1, 1, 1, device=device, generator=generator) < 0.3).float()
    kernel = torch.tensor([1.0, 2.0, 1.0], device=device)
    kernel = (kernel[:, None] * kernel[None]) / 16
    blurred = F.conv2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), kernel.expand(3, 1, 3, 3), groups=3)
    out = blur * blurred + (1 - blur) * out
    return out.clamp(0, 1)


class MoCo(nn.Module):
    """Momentum copy of the encoder and head, and a queue of negative keys (He et al. 2020; Chen et al. 2020)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, queue_size: int, momentum: float, temperature: float):
        super().__init__()
        self.encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.head = copy.deepcopy(head).requires_grad_(False)
        self.momentum, self.temperature = momentum, temperature
        dim = head.mlp[-1].out_features
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def keys(self, images: torch.Tensor) -> torch.Tensor:
        mean, _ = self.encoder(images)
        return self.head(mean)

    def loss(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """InfoNCE over one positive key and the queue's negatives; per-example, shape (N,)."""
        positive = (queries * keys).sum(dim=1, keepdim=True)
        negative = queries @ self.queue.t()
        logits = torch.cat([positive, negative], dim=1) / self.temperature
        return F.cross_entropy(
            logits, torch.zeros(len(queries), dtype=torch.long, device=queries.device), reduction="none"
        )

    @torch.no_grad()
    def update(self, encoder: nn.Module, head: nn.Module, keys: torch.Tensor) -> None:
        """Momentum-update the key networks, then push this step's keys (from every rank) into the queue."""
        for source, target in ((encoder, self.encoder), (head, self.head)):
            for p_source, p_target in zip(source.parameters(), target.parameters()):
                p_target.lerp_(p_source.detach(), 1 - self.momentum)
        if dist.is_available() and dist.is_initialized():
            gathered = [torch.empty_like(keys) for _ in range(dist.get_world_size())]
            dist.all_gather(gathered, keys.contiguous())
            keys = torch.cat(gathered)
        size, start = len(self.queue), int(self.pointer)
        index = (start + torch.arange(len(keys), device=keys.device)) % size
        self.queue[index] = keys.float()
        self.pointer.fill_((start + len(keys)) % size)
