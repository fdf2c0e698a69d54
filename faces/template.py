"""Where the five landmarks sit, on average, in the model's training framing (CelebA-64), as fractions of the
frame's width and height (0 = left or top edge, 1 = right or bottom edge), in dlib's 5-point order."""
from __future__ import annotations

import numpy as np

# python -m pipelines.landmarks --data ../shared/data/celeba64 --count 2000: 1921 images, 79 failed
TEMPLATE = (
    (0.6806, 0.4928),
    (0.5769, 0.4980),
    (0.3191, 0.4925),
    (0.4221, 0.4982),
    (0.4965, 0.6951),
)


def template_points(resolution: int) -> np.ndarray:
    """The template in the pixels of a resolution x resolution frame (pixel centres at integers), 5 x 2."""
    return np.array(TEMPLATE, dtype=np.float64) * resolution - 0.5
