"""Face datasets in three layouts, loaded once into memory as uint8 tensors.

1. celeba64: ``attributes.csv`` (id, file, split, identity, 40 attributes as 0/1) beside the image files.
2. original CelebA: ``img_align_celeba/`` + ``list_attr_celeba.txt`` (+ optional ``list_eval_partition.txt``),
   cut with the standard (15, 40, 163, 188) box used by NVAE and D2C.
3. any folder of images (unlabeled): centre square crop.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
CELEBA_BOX = (15, 40, 163, 188)  # (left, top, right, bottom) on the 178 x 218 aligned frame
CELEBA_SPLITS = {"0": "train", "1": "valid", "2": "test"}


class DatasetError(ValueError):
    """A dataset path that cannot be read, with a message saying why."""


@dataclass
class FaceDataset:
    images: torch.Tensor  # N x 3 x H x W, uint8
    ids: list[str]
    attribute_names: list[str] = field(default_factory=list)
    attributes: torch.Tensor | None = None  # N x A, int8 0/1; None when unlabeled
    layout: str = "folder"

    def __len__(self) -> int:
        return len(self.ids)

    def attribute(self, name: str) -> torch.Tensor:
        if self.attributes is None:
            raise DatasetError("this dataset has no attribute labels")
        if name not in self.attribute_names:
            raise DatasetError(f"unknown attribute {name!r}; known: {', '.join(self.attribute_names)}")
        return self.attributes[:, self.attribute_names.index(name)]

    def float_images(self, index: torch.Tensor | slice) -> torch.Tensor:
        return self.images[index].float().div_(255)


def _load_image(path: Path, resolution: int, box: tuple[int, int, int, int] | None) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if box is None:
                side = min(image.size)
                left, top = (image.width - side) // 2, (image.height - side) // 2
                box = (left, top, left + side, top + side)
            image = image.crop(box)
            if image.size != (resolution, resolution):
                image = image.resize((resolution, resolution), Image.Resampling.LANCZOS)
            return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DatasetError(f"cannot read image {path}: {error}") from error


def _stack(root: Path, files: list[Path], resolution: int, box) -> torch.Tensor:
    if not files:
        raise DatasetError(f"no images found under {root}")
    images = np.empty((len(files), 3, resolution, resolution), dtype=np.uint8)
    for index, path in enumerate(files):
        images[index] = _load_image(path, resolution, box)
    return torch.from_numpy(images)


def detect_layout(root: Path) -> str:
    if (root / "attributes.csv").is_file():
        return "celeba64"
    if (root / "img_align_celeba").is_dir() and (root / "list_attr_celeba.txt").is_file():
        return "celeba"
    return "folder"


def _load_celeba64(
    root: Path, split: str | None, resolution: int, limit: int | None, ids: set[str] | None, labels_only: bool
) -> FaceDataset:
    with open(root / "attributes.csv", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for row in reader if (split is None or row[2] == split) and (ids is None or row[0] in ids)]
    if not rows:
        raise DatasetError(f"{root / 'attributes.csv'} has no rows for split {split!r}")
    rows = rows[:limit]
    names = header[4:]
    files = [root / row[1] for row in rows]
    missing = [] if labels_only else [str(path) for path in files if not path.is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} image files listed in attributes.csv are missing, e.g. {missing[0]}")
    labels = torch.tensor([[int(value) for value in row[4:]] for row in rows], dtype=torch.int8)
    images = torch.empty(0, dtype=torch.uint8) if labels_only else _stack(root, files, resolution, None)
    return FaceDataset(images, [row[0] for row in rows], names, labels, "celeba64")


def _load_celeba(
    root: Path, split: str | None, resolution: int, limit: int | None, ids: set[str] | None, labels_only: bool
) -> FaceDataset:
    lines = (root / "list_attr_celeba.txt").read_text().split("\n")
    names = lines[1].split()
    entries = [line.split() for line in lines[2:] if line.strip()]
    partition_file = root / "list_eval_partition.txt"
    if split is not None:
        if not partition_file.is_file():
            raise DatasetError(f"split {split!r} asked for but {partition_file} is missing")
        partition = dict(line.split() for line in partition_file.read_text().split("\n") if line.strip())
        entries = [entry for entry in entries if CELEBA_SPLITS.get(partition.get(entry[0], "")) == split]
    if ids is not None:
        entries = [entry for entry in entries if Path(entry[0]).stem in ids]
    if not entries:
        raise DatasetError(f"{root} has no images for split {split!r}")
    entries = entries[:limit]
    files = [root / "img_align_celeba" / entry[0] for entry in entries]
    labels = torch.tensor([[1 if value == "1" else 0 for value in entry[1:]] for entry in entries], dtype=torch.int8)
    images = torch.empty(0, dtype=torch.uint8) if labels_only else _stack(root, files, resolution, CELEBA_BOX)
    return FaceDataset(images, [Path(entry[0]).stem for entry in entries], names, labels, "celeba")


def _load_folder(root: Path, resolution: int, limit: int | None) -> FaceDataset:
    files = sorted(path for path in root.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())[:limit]
    images = _stack(root, files, resolution, None)
    return FaceDataset(images, [str(path.relative_to(root)) for path in files])


def load_dataset(
    path: str | Path,
    split: str | None = None,
    resolution: int = 64,
    limit: int | None = None,
    ids: set[str] | None = None,
    labels_only: bool = False,
) -> FaceDataset:
    """Load a dataset of any of the three layouts.

    `split` filters labelled layouts (train/valid/test), `ids` keeps only those image ids, and `labels_only`
    skips decoding pixels (images is then an empty tensor) for choosing examples by label.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    layout = detect_layout(root)
    if layout == "celeba64":
        return _load_celeba64(root, split, resolution, limit, ids, labels_only)
    if layout == "celeba":
        return _load_celeba(root, split, resolution, limit, ids, labels_only)
    if split is not None and split != "train":
        raise DatasetError(f"{root} is a plain image folder with no splits; cannot select split {split!r}")
    return _load_folder(root, resolution, limit)
