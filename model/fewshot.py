"""Choosing few-shot example sets from a labelled dataset, reproducibly (the probe and built-in attributes)."""

from __future__ import annotations

import torch

from model.data import FaceDataset


def select_examples(
    dataset: FaceDataset, attribute: str, positives: int = 50, negatives: int = 50, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Ids of `positives` images with the attribute and `negatives` without it, drawn with a fixed seed."""
    labels = dataset.attribute(attribute)
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for value, count in ((1, positives), (0, negatives)):
        candidates = torch.nonzero(labels == value).flatten()
        if len(candidates) < count:
            raise ValueError(f"{attribute}: only {len(candidates)} images with label {value}, {count} requested")
        picked = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
        chosen.append([dataset.ids[int(index)] for index in picked])
    return chosen[0], chosen[1]
