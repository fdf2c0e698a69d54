"""Image checks, decoding and PNG encoding with Pillow only (the API checks uploads, the workers decode them).

`inspect_upload` reads just the header, so byte and pixel limits are enforced before any pixel is decoded.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from contract.errors import UploadTooLarge, UploadUnreadable

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_EXIF_BYTES = 65536  # what one JPEG APP1 segment can hold; PNG and WebP could carry more


@dataclass(frozen=True)
class UploadInfo:
    format: str
    width: int
    height: int


def _open(data: bytes, label: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UploadTooLarge(f"{label}: {error}") from error
    except UnidentifiedImageError as error:
        raise UploadUnreadable(f"{label} is not a JPEG, PNG or WebP image") from error


def _checked(data: bytes, max_bytes: int, max_pixels: int, label: str) -> Image.Image:
    """The lazily opened image, once size, format and pixel count pass (only the header is read)."""
    if len(data) > max_bytes:
        raise UploadTooLarge(f"{label} is {len(data)} bytes; the limit is {max_bytes} bytes")
    if not data:
        raise UploadUnreadable(f"{label} is empty")
    image = _open(data, label)
    width, height = image.size
    if width * height > max_pixels:
        raise UploadTooLarge(f"{label} is {width}x{height} = {width * height} pixels; the limit is {max_pixels} pixels")
    if width < 8 or height < 8:
        raise UploadUnreadable(f"{label} is {width}x{height}; images must be at least 8x8 pixels")
    if image.format in ("PNG", "WEBP") and getattr(image, "is_animated", False):
        raise UploadUnreadable(f"{label} is animated ({image.n_frames} frames); send a still photo")
    return image


def _check_metadata(image: Image.Image, label: str) -> None:
    """EXIF is only read for the orientation: refuse blocks too large or too broken for that."""
    exif = image.info.get("exif") or b""
    if len(exif) > MAX_EXIF_BYTES:
        raise UploadUnreadable(f"{label} has {len(exif)} bytes of EXIF metadata; the limit is {MAX_EXIF_BYTES} bytes")
    try:
        image.getexif().get(0x0112)
    except Exception as error:  # Pillow raises assorted errors on malformed EXIF
        raise UploadUnreadable(f"{label} has unreadable EXIF metadata: {error}") from error


def _load(image: Image.Image, label: str) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise UploadUnreadable(f"{label} is corrupt or truncated: {error}") from error


def inspect_upload(data: bytes, max_bytes: int, max_pixels: int, label: str = "image") -> UploadInfo:
    """Check the header limits, then verify the data decodes (at 1/8 scale for JPEG, which is cheap)."""
    image = _checked(data, max_bytes, max_pixels, label)
    width, height = image.size
    if image.format == "JPEG":
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    _load(image, label)
    _check_metadata(image, label)
    return UploadInfo(image.format, width, height)


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


def decode_upload(data: bytes, max_bytes: int, max_pixels: int, label: str = "image") -> Image.Image:
    """Re-check the limits (workers do not trust Redis contents blindly) and decode to upright RGB."""
    image = _checked(data, max_bytes, max_pixels, label)
    _load(image, label)
    _check_metadata(image, label)
    return to_rgb(image)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
