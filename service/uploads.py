"""Reading multipart files within the byte limit and checking them as images (refusals: contract.errors)."""
from __future__ import annotations

from fastapi import HTTPException, UploadFile

from contract.images import inspect_upload
from contract.settings import ApiSettings


def read_limited(upload: UploadFile, limit: int, label: str) -> bytes:
    """At most `limit` bytes; one more means too large, so an oversized body is never read in full."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"{label} is larger than the limit of {limit} bytes")
    return data


def checked_image(data: bytes, settings: ApiSettings, label: str) -> bytes:
    inspect_upload(data, settings, label)
    return data


def read_image(upload: UploadFile, settings: ApiSettings, label: str) -> bytes:
    return checked_image(read_limited(upload, settings.max_upload_bytes, label), settings, label)
