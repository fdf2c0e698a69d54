"""Test images made in memory (and one real face from the shared CelebA-64 data, when present)."""
from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
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


def _chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    """A PNG chunk; `length` overrides the declared length (to run past the end of the file)."""
    declared = len(data) if length is None else length
    return struct.pack(">I", declared) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_of(*chunks: bytes) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def malformed_pngs() -> dict[str, bytes]:
    """PNG headers that make Pillow raise while opening: an iCCP profile inflating past 1 MB, an IHDR of 12 bytes,
    chunks whose declared length runs past the end of the file."""
    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    ihdr, iend = _chunk(b"IHDR", header), _chunk(b"IEND", b"")
    idat = _chunk(b"IDAT", zlib.compress(bytes((16 * 3 + 1) * 16)))
    return {
        "iccp_bomb": _png_of(ihdr, _chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(2_000_000), 9)), idat, iend),
        "ihdr_length_12": _png_of(_chunk(b"IHDR", header[:12]), idat, iend),
        "chunk_past_eof": _png_of(ihdr, struct.pack(">I", 10_000) + b"tEXt" + b"comment"),
        "ihdr_past_eof": b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + b"\x00\x00",
    }


def fuzzed_webps(count: int = 300) -> list[bytes]:
    """A lossless WebP with 4 random bytes overwritten, `count` times (seeded: the same files on every run)."""
    original = encoded(picture(32, 32), "WEBP", lossless=True)
    variants = []
    for seed in range(count):
        generator = random.Random(seed)
        data = bytearray(original)
        for _ in range(4):
            data[generator.randrange(12, len(data))] = generator.randrange(256)
        variants.append(bytes(data))
    return variants


def pillow_opens(data: bytes) -> bool:
    try:
        Image.open(io.BytesIO(data)).size  # noqa: B018 - the size forces the header to be parsed
    except Exception:  # noqa: BLE001 - whatever Pillow raises
        return False
    return True


def flat_lossless_webp(width: int, height: int) -> bytes:
    """Few bytes, many decoded ones: one colour compresses to almost nothing."""
    return encoded(Image.new("RGBA", (width, height), (200, 80, 40, 255)), "WEBP", lossless=True)
