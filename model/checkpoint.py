"""Checkpoint directories and every name in their layout: EMA weights, config, card, built-in attributes, the
unlabeled latent pool and the ONNX export."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from model.card import render_card
from model.config import ModelConfig, model_config_from_dict, to_dict
from model.d2c import D2C

WEIGHTS, CONFIG, CARD_JSON = "model.safetensors", "config.json", "card.json"
ATTRIBUTES_DIR = "attributes"  # built-in attribute classifiers, <name>.json + <name>.safetensors
POOL_FILE = "unlabeled_latents.safetensors"  # the unlabeled latent pool PU attributes and edit directions use
SKIN_READOUT_FILE = "skin_readout.safetensors"  # linear readout of the decoded skin colour, held fixed by edits
# the MoCo projection head (ProjectionHead's state): its first layer is the few-shot teacher (model/teacher.py), and a
# warm start continues the whole head, which a fresh one would have to learn again
HEAD_FILE = "teacher_head.safetensors"
ONNX_DIR = "onnx"  # {encoder,decoder,denoiser}.onnx
FORMAT = "d2c-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be used, with a message saying why."""


def _atomic_write(path: Path, write) -> None:
    partial = path.with_name(path.name + ".partial")
    write(partial)
    os.replace(partial, path)


def save_model(directory: str | Path, model: D2C) -> None:
    """Write the weights and config of `model` into `directory` (each file replaced atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = {name: tensor.detach().float().cpu().contiguous() for name, tensor in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS, lambda path: save_file(weights, str(path), metadata={"format": FORMAT}))
    config = {"format": FORMAT, "model": to_dict(model.config)}
    _atomic_write(directory / CONFIG, lambda path: path.write_text(json.dumps(config, indent=2) + "\n"))


def save_head(directory: str | Path, head_state: dict[str, torch.Tensor]) -> None:
    """Write a ProjectionHead's state as the checkpoint's head (HEAD_FILE)."""
    tensors = {name: tensor.detach().float().cpu().contiguous() for name, tensor in head_state.items()}
    _atomic_write(Path(directory) / HEAD_FILE, lambda path: save_file(tensors, str(path)))


def load_head(directory: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor] | None:
    """The checkpoint's ProjectionHead state, None when it ships no head. Checkpoints written before the whole head
    was kept hold only its first layer (mlp.0)."""
    path = Path(directory) / HEAD_FILE
    return load_file(str(path), device=str(device)) if path.is_file() else None


def load_config(directory: str | Path) -> ModelConfig:
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{directory} is not a D2C checkpoint: {CONFIG} is missing")
    try:
        values = json.loads(path.read_text())
        return model_config_from_dict(values["model"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} is not a valid D2C config: {error}") from error


def load_model(directory: str | Path, device: str | torch.device = "cpu", resolution: int | None = None) -> D2C:
    """Load a checkpoint for inference (eval mode, no gradients); `resolution` asserts the expected image size."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory {directory} does not exist")
    config = load_config(directory)
    if resolution is not None and config.resolution != resolution:
        raise CheckpointError(f"checkpoint {directory} is for {config.resolution}px images, not {resolution}px")
    model = D2C(config)
    try:
        weights = load_file(str(directory / WEIGHTS))
    except (FileNotFoundError, SafetensorError, OSError) as error:
        raise CheckpointError(f"cannot read {directory / WEIGHTS}: {error}") from error
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(f"weights in {directory} do not match its config: {error}") from error
    # channels_last: encode 1.5x and decode 1.6x faster on this CPU (100 faces, one thread), same results
    return model.to(device, memory_format=torch.channels_last).eval().requires_grad_(False)


def read_card(directory: str | Path) -> dict:
    path = Path(directory) / CARD_JSON
    return json.loads(path.read_text()) if path.is_file() else {}


def update_card(directory: str | Path, **sections) -> dict:
    """Merge `sections` into card.json and re-render card.md from it."""
    directory = Path(directory)
    card = read_card(directory)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(card.get(key), dict):
            card[key] = {**card[key], **value}
        else:
            card[key] = value
    _atomic_write(directory / CARD_JSON, lambda path: path.write_text(json.dumps(card, indent=2) + "\n"))
    _atomic_write(directory / "card.md", lambda path: path.write_text(render_card(card)))
    return card
