"""Small image helpers shared by training, evaluation and export: grids and PNG writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N x 3 x H x W floats in [0, 1] -> N x H x W x 3 uint8."""
    return images.detach().float().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def grid(images: torch.Tensor, columns: int, padding: int = 2) -> Image.Image:
    pixels = to_uint8(images)
    count, height, width, _ = pixels.shape
    rows = -(-count // columns)
    canvas = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3), 255, np.uint8)
    for index, image in enumerate(pixels):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        canvas[top : top + height, left : left + width] = image
    return Image.fromarray(canvas)


def save_grid(images: torch.Tensor, path: str | Path, columns: int = 8) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid(images, columns).save(path)
