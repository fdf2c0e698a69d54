"""Where the `face-recognition-models` package keeps its model files, found without importing it.

Its `__init__` imports `pkg_resources`, which current setuptools no longer ships, so the package is located by
its import spec (which does not run it) instead.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"  # CC0
FACE_EMBEDDING = "dlib_face_recognition_resnet_model_v1.dat"  # CC0


def model_file(name: str) -> Path:
    """The path of one of the package's model files; a clear error when the package is missing."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face models are missing: pip install 'face-recognition-models>=0.3'")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall face-recognition-models")
    return path
