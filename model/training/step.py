"""One joint D2C training step (paper Eq. 4-5 plus MoCo-v2), and the state it carries from step to step.

The trainer owns the networks, their EMA copy (what ships), the MoCo key networks and the optimizer; the
loop in ``train.py`` feeds it batches and decides when to save or stop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from model.config import TrainConfig
from model.contrastive import MoCo, face_augment
from model.d2c import D2C, D2CLoss
from model.networks import ProjectionHead
from model.precision import autocast


class LossModule(nn.Module):
    """Everything that carries gradients in one step, so DDP can wrap it as one module."""

    def __init__(self, model: D2C, head: ProjectionHead, loss: D2CLoss):
        super().__init__()
        self.model, self.head, self.loss = model, head, loss

    def forward(
        self, images: torch.Tensor, queries: torch.Tensor | None, keys: torch.Tensor | None, moco: MoCo | None
    ) -> dict[str, torch.Tensor]:
        contrastive = None
        if moco is not None:
            contrastive = lambda mean: moco.loss(self.head(mean), keys)
        return self.loss(self.model, images, contrastive, queries)


@dataclass
class Trainer:
    config: TrainConfig
    model: D2C
    head: ProjectionHead
    ema: D2C
    moco: MoCo | None
    loss: D2CLoss
    optimizer: torch.optim.Optimizer
    module: nn.Module  # the LossModule, DDP-wrapped when there are several ranks
    precision: str = "fp32"  # "bf16" autocasts the forward pass
    channels_last: bool = False
    step_count: int = 0

    @property
    def parameters(self) -> list[nn.Parameter]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]

    def autocast(self):
        return autocast(self.model.device, self.precision)

    def step(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimizer step on a batch of images in [0, 1]; returns the batch-mean loss terms."""
        # 1. warmup, then a constant learning rate
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.learning_rate * min(1.0, (self.step_count + 1) / self.config.warmup_steps)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        # 2. forward: keys from one augmented view; the query sees a second view or the clean image
        with self.autocast():
            keys = queries = None
            if self.moco is not None:
                keys = self.moco.keys(face_augment(images))
                if self.config.moco_augment_query:
                    queries = face_augment(images)
            terms = self.module(images, queries, keys, self.moco)
        # 3. backward and update, then the momentum copies
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, 1000.0)
        self.optimizer.step()
        self.after_step(keys)
        return terms

    @torch.no_grad()
    def after_step(self, keys: torch.Tensor | None) -> None:
        """MoCo momentum and queue, then the EMA weights that ship; counts the step."""
        if self.moco is not None:
            self.moco.update(self.model.encoder, self.head, keys)
        decay = min(self.config.ema_decay, (1 + self.step_count) / (10 + self.step_count))
        for p_ema, p_model in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            p_ema.lerp_(p_model.detach(), 1 - decay)
        self.step_count += 1

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "head": self.head.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "moco": self.moco.state_dict() if self.moco else {},
            "step": self.step_count,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.head.load_state_dict(state["head"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.moco is not None and state["moco"]:
            self.moco.load_state_dict(state["moco"])
        self.step_count = state["step"]

    def warm_start(self, weights: dict[str, torch.Tensor], head: dict[str, torch.Tensor] | None = None) -> None:
        """Start from shipped EMA weights and MoCo head: networks, EMA and the MoCo key networks all take them; the
        optimizer is fresh. A head holding only its first layer (older checkpoints) leaves the rest as initialised."""
        self.model.load_state_dict(weights)
        self.ema.load_state_dict(weights)
        if head is not None:
            missing, unexpected = self.head.load_state_dict(head, strict=False)
            if unexpected or any(not name.startswith("mlp.2.") for name in missing):
                raise ValueError(
                    f"the checkpoint's head does not fit this run's: missing {missing}, unexpected {unexpected}"
                )
        if self.moco is not None:
            self.moco.encoder.load_state_dict(self.model.encoder.state_dict())
            self.moco.head.load_state_dict(self.head.state_dict())


def build_trainer(
    config: TrainConfig,
    device: torch.device,
    distributed: bool = False,
    precision: str = "fp32",
    channels_last: bool = False,
) -> Trainer:
    """Fresh networks, EMA copy, MoCo key networks and a (foreach) AdamW for `config` on `device`."""
    model = D2C(config.model).to(device)
    head = ProjectionHead(config.model).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).requires_grad_(False)
    moco = None
    if config.contrastive_weight > 0:
        moco = MoCo(model.encoder, head, config.moco_queue, config.moco_momentum, config.moco_temperature).to(device)
    loss = D2CLoss(config.pixel_sigma, config.diffusion_weight, config.entropy_weight, config.contrastive_weight)
    module = LossModule(model, head, loss)
    parameters = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay, foreach=True)
    if distributed:
        module = DistributedDataParallel(module)
    return Trainer(config, model, head, ema, moco, loss, optimizer, module, precision, channels_last)
