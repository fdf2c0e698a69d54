"""Test images made in memory (and one real face from the shared CelebA-64 data, when present)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CELEBA = ROOT.parent / "shared" / "data" / "celeba64" / "train"


def picture(width: int = 48, height: int = 40, seed: int = 0, mode: str = "RGB") -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def encoded(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png(width: int = 48, height: int = 40, seed: int = 0) -> bytes:
    return encoded(picture(width, height, seed))


def face_photo() -> bytes | None:
    """A CelebA-64 face enlarged onto a wider canvas, so face detection and paste-back have work to do."""
    path = CELEBA / "000001.jpg"
    if not path.is_file():
        return None
    face = Image.open(path).convert("RGB").resize((256, 256), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (400, 320), (90, 120, 150))
    canvas.paste(face, (80, 40))
    return encoded(canvas, "JPEG", quality=92)


def examples_zip(labels: dict[str, str], extra: dict[str, bytes] | None = None,
                 labels_text: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, name in enumerate(labels):
            archive.writestr(name, png(seed=100 + index))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        rows = "".join(f"{name},{label}\n" for name, label in labels.items())
        text = labels_text if labels_text is not None else "file,label\n" + rows
        archive.writestr("labels.csv", text)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))
