"""What the rows feed the product: the checkpoint's model and built-in attribute, face photos, the worker's edit.

Real test-split faces are used when --data holds them; otherwise random pixels stand in (fine for speed, which
does not depend on content), and the rows say so.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from contract.settings import Settings
from model.attributes import AttributeClassifier, builtin_directory
from model.checkpoint import load_model
from model.d2c import D2C
from model.data import DatasetError, FaceDataset, load_dataset
from model.manipulation import default_settings, edit_images
from pipelines.builtins import BUILTINS

FACES_LOADED = 256  # test faces kept for the speed rows; the quality row loads its own


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Workload:
    checkpoint: Path
    data: Path
    device: str
    attribute: str  # the built-in every edit asks for
    mode: str = field(default_factory=lambda: Settings().manipulation_mode)  # what the workers run

    @cached_property
    def model(self) -> D2C:
        return load_model(self.checkpoint, self.device)

    @property
    def resolution(self) -> int:
        return self.model.config.resolution

    @cached_property
    def conditions(self) -> list[tuple[AttributeClassifier, bool]]:
        return [(AttributeClassifier.load(builtin_directory(self.checkpoint), self.attribute), True)]

    @cached_property
    def faces(self) -> FaceDataset | None:
        try:
            return load_dataset(self.data, split="test", resolution=self.resolution, limit=FACES_LOADED)
        except (DatasetError, FileNotFoundError, OSError):
            return None

    @property
    def source(self) -> str:
        return "real test faces" if self.faces is not None else f"random pixels (no faces at {self.data})"

    def pixels(self, count: int, offset: int = 0) -> np.ndarray:
        """count x H x W x 3 uint8 photos at the model's resolution."""
        if self.faces is None:
            generator = np.random.default_rng(offset)
            return generator.integers(0, 256, (count, self.resolution, self.resolution, 3), dtype=np.uint8)
        index = torch.arange(offset, offset + count) % len(self.faces)
        return self.faces.images[index].permute(0, 2, 3, 1).numpy()

    def images(self, count: int, offset: int = 0) -> torch.Tensor:
        """count x 3 x H x W floats in [0, 1]."""
        return torch.from_numpy(self.pixels(count, offset)).permute(0, 3, 1, 2).float().div(255)

    def photos(self, count: int, offset: int = 0) -> list[bytes]:
        """PNG uploads, as a client would send them."""
        return [png(pixels) for pixels in self.pixels(count, offset)]

    def labelled_photos(self, count: int) -> tuple[list[bytes], list[bytes]]:
        """Up to `count` photos with the attribute and `count` without, by the dataset's labels when there are faces."""
        if self.faces is None or self.attribute not in BUILTINS:
            return self.photos(count), self.photos(count, offset=count)
        labels = self.faces.attribute(BUILTINS[self.attribute]).bool()
        pixels = self.faces.images.permute(0, 2, 3, 1).numpy()
        return (
            [png(pixels[i]) for i in torch.nonzero(labels).flatten()[:count]],
            [png(pixels[i]) for i in torch.nonzero(~labels).flatten()[:count]],
        )

    @torch.no_grad()
    def edit(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The model work of one worker batch (workers.editing.edit_group): reconstructions, edits (decoded) and
        which faces were kept as they were."""
        return edit_images(self.model, images, self.conditions, default_settings(self.conditions), mode=self.mode)
