"""Image checks, decoding and PNG encoding with Pillow only (the API checks uploads, the workers decode them).

Every limit (bytes, pixels, decoded bytes) is checked from the header before any pixel is decoded. The API never
decodes a PNG or WebP (it verifies a PNG's chunks and decodes a JPEG at 1/8 scale); the workers decode under the
same limits. Any error Pillow raises on a malformed file is an `UploadUnreadable`, never a crash.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageMode, ImageOps, UnidentifiedImageError

from contract.errors import UploadError, UploadTooLarge, UploadUnreadable
from contract.settings import SharedSettings

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_EXIF_BYTES = 65536  # what one JPEG APP1 segment can hold; PNG and WebP could carry more
ORIENTATION = 0x0112


@dataclass(frozen=True)
class UploadInfo:
    format: str
    width: int
    height: int
    decoded_bytes: int


@contextmanager
def _pillow_errors(label: str, problem: str) -> Iterator[None]:
    """Pillow raises ValueError, OSError, SyntaxError, EOFError, struct.error and more on malformed files: each is
    an unreadable upload."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (UploadError, MemoryError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadTooLarge(f"{label}: {error}") from error
    except UnidentifiedImageError as error:
        raise UploadUnreadable(f"{label} is not a JPEG, PNG or WebP image") from error
    except Exception as error:  # whatever a hostile header makes Pillow raise
        raise UploadUnreadable(f"{label} {problem}: {error}") from error


def decoded_bytes(image: Image.Image) -> int:
    """Width x height x channels x bytes per channel: what decoding the image allocates."""
    width, height = image.size
    mode = ImageMode.getmode(image.mode)
    return width * height * len(mode.bands) * int(mode.typestr[-1])


def _checked(data: bytes, settings: SharedSettings, label: str) -> tuple[Image.Image, int]:
    """The lazily opened image and its decoded size, once size, format, pixels and decoded bytes pass (only the
    header is read)."""
    if len(data) > settings.max_upload_bytes:
        raise UploadTooLarge(f"{label} is {len(data)} bytes; the limit is {settings.max_upload_bytes} bytes")
    if not data:
        raise UploadUnreadable(f"{label} is empty")
    with _pillow_errors(label, "has a malformed header"):
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        width, height = image.size
        size = decoded_bytes(image)
        frames = getattr(image, "n_frames", 1) if image.format in ("PNG", "WEBP") else 1
    if width * height > settings.max_upload_pixels:
        raise UploadTooLarge(f"{label} is {width}x{height} = {width * height} pixels; "
                             f"the limit is {settings.max_upload_pixels} pixels")
    if size > settings.max_upload_decoded_bytes:
        raise UploadTooLarge(f"{label} is {width}x{height} {image.mode}, {size} bytes once decoded; "
                             f"the limit is {settings.max_upload_decoded_bytes} decoded bytes")
    if width < 8 or height < 8:
        raise UploadUnreadable(f"{label} is {width}x{height}; images must be at least 8x8 pixels")
    if frames > 1:
        raise UploadUnreadable(f"{label} is animated ({frames} frames); send a still photo")
    return image, size


def _check_metadata(image: Image.Image, label: str) -> None:
    """EXIF is only read for the orientation: refuse blocks too large or too broken for that. The raw block is
    parsed directly (a PNG's getexif() would decode the whole image)."""
    exif = image.info.get("exif") or b""
    if len(exif) > MAX_EXIF_BYTES:
        raise UploadUnreadable(f"{label} has {len(exif)} bytes of EXIF metadata; the limit is {MAX_EXIF_BYTES} bytes")
    if not exif:
        return
    try:
        parsed = Image.Exif()
        parsed.load(exif)
        parsed.get(ORIENTATION)
    except Exception as error:  # Pillow raises assorted errors on malformed EXIF
        raise UploadUnreadable(f"{label} has unreadable EXIF metadata: {error}") from error


def inspect_upload(data: bytes, settings: SharedSettings, label: str = "image") -> UploadInfo:
    """Check the header limits, then the file's structure without decoding it whole: a JPEG is decoded at 1/8
    scale, a PNG's chunks and checksums are verified, a WebP's container was parsed by opening it."""
    image, size = _checked(data, settings, label)
    width, height = image.size
    _check_metadata(image, label)
    with _pillow_errors(label, "is corrupt or truncated"):
        if image.format == "JPEG":
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
        elif image.format == "PNG":
            image.verify()
    return UploadInfo(image.format, width, height, size)


def _flatten_alpha(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright 8-bit RGB: EXIF orientation applied; alpha over white; CMYK, palette, grey and 16-bit converted."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: map 0..65535 onto 0..255 rather than clipping at 255
        image = image.convert("I").point(lambda value: value / 257).convert("L")
    if image.mode == "F":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return _flatten_alpha(image)
    return image.convert("RGB")


def decode_upload(data: bytes, settings: SharedSettings, label: str = "image") -> Image.Image:
    """Re-check every limit from the header (workers do not trust Redis contents blindly), then decode to upright
    RGB."""
    image, _ = _checked(data, settings, label)
    _check_metadata(image, label)
    with _pillow_errors(label, "is corrupt or truncated"):
        image.load()
        return to_rgb(image)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
