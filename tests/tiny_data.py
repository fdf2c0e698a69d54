"""Tiny model configs and tiny datasets in both CelebA layouts, written by the tests themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from model.config import ModelConfig, TrainConfig, to_dict

ATTRIBUTES = ["Blond_Hair", "Male", "Smiling"]


def tiny_model_config(**overrides) -> ModelConfig:
    values = {"resolution": 32, "channels": (8, 16), "latent_channels": 4, "denoiser_channels": 8, "denoiser_blocks": 1,
              "diffusion_steps": 100, "projection_dim": 16, "groups": 4}
    return ModelConfig(**{**values, **overrides})


def tiny_train_config_file(directory: Path, **overrides) -> Path:
    config = TrainConfig(
        model=tiny_model_config(), batch_size=8, warmup_steps=1, moco_queue=64, checkpoint_minutes=100.0
    )
    values = {**to_dict(config), **overrides}
    path = directory / "train_config.json"
    path.write_text(json.dumps(values))
    return path


def face_like(seed: int, size: int, blond: bool) -> np.ndarray:
    """A synthetic 'face': a skin-coloured ellipse on a background, with a hair band whose colour is the label."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.empty((size, size, 3))
    image[:] = rng.uniform(0.2, 0.8, 3)
    face = ((xx - 0.5) / 0.3) ** 2 + ((yy - 0.55) / 0.38) ** 2 < 1
    image[face] = [0.9, 0.7, 0.6]
    hair = (yy < 0.3) & ~face
    image[hair] = [0.95, 0.85, 0.3] if blond else [0.2, 0.12, 0.08]
    image += rng.normal(0, 0.03, image.shape)
    return (image.clip(0, 1) * 255).astype(np.uint8)


def write_celeba64(root: Path, count: int = 24, size: int = 32) -> Path:
    """The ../shared/data/celeba64 layout: attributes.csv (id, file, split, identity, labels) + split folders."""
    rows = []
    for index in range(count):
        split = "train" if index < count * 3 // 4 else "test"
        image_id = f"{index + 1:06d}"
        labels = [index % 2, (index // 2) % 2, (index // 3) % 2]
        (root / split).mkdir(parents=True, exist_ok=True)
        Image.fromarray(face_like(index, size, bool(labels[0]))).save(root / split / f"{image_id}.jpg", quality=95)
        rows.append([image_id, f"{split}/{image_id}.jpg", split, str(index)] + [str(v) for v in labels])
    lines = [",".join(["id", "file", "split", "identity"] + ATTRIBUTES)] + [",".join(row) for row in rows]
    (root / "attributes.csv").write_text("\n".join(lines) + "\n")
    return root


def write_original_celeba(root: Path, count: int = 6) -> Path:
    """The original CelebA layout: img_align_celeba/ (178 x 218) + list_attr_celeba.txt + list_eval_partition.txt."""
    (root / "img_align_celeba").mkdir(parents=True)
    attr_lines, partition_lines = [str(count), " ".join(ATTRIBUTES)], []
    for index in range(count):
        name = f"{index + 1:06d}.jpg"
        frame = np.zeros((218, 178, 3), np.uint8)
        frame[40:188, 15:163] = face_like(index, 148, index % 2 == 1)  # only the standard box holds the face
        Image.fromarray(frame).save(root / "img_align_celeba" / name, quality=95)
        labels = ["1" if (index >> bit) % 2 else "-1" for bit in range(len(ATTRIBUTES))]
        attr_lines.append(f"{name} " + " ".join(labels))
        partition_lines.append(f"{name} {0 if index < count - 2 else 2}")
    (root / "list_attr_celeba.txt").write_text("\n".join(attr_lines) + "\n")
    (root / "list_eval_partition.txt").write_text("\n".join(partition_lines) + "\n")
    return root
