"""Moving images between Redis and arrays: uploaded photos in, PNG results out, and model batches."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from contract import keys
from contract.errors import UploadError, UploadTooLarge
from contract.images import decode_upload, png_bytes
from workers.errors import JobInputError
from workers.runtime import Runtime


def load_photo(env: Runtime, key: str) -> np.ndarray:
    data = env.redis.get(key)
    if data is None:
        raise JobInputError("the uploaded image expired before a worker took the job; upload it again", 410)
    try:
        image = decode_upload(data, env.settings)
    except UploadError as error:
        raise JobInputError(error.message, 413 if isinstance(error, UploadTooLarge) else 422) from error
    return np.asarray(image, dtype=np.uint8)


def to_batch(crops: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def from_batch(images: torch.Tensor) -> np.ndarray:
    return images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


def store_pngs(env: Runtime, job_id: str, pixels: list[np.ndarray]) -> list[str]:
    stored = []
    with env.redis.pipeline() as pipe:
        for index, image in enumerate(pixels):
            key = keys.result(job_id, index)
            pipe.set(key, png_bytes(Image.fromarray(image)), ex=env.settings.result_ttl)
            stored.append(key)
        pipe.execute()
    return stored
