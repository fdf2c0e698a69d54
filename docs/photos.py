"""Before/after figures of real photos edited through the service: python docs/photos.py [CHECKPOINT] [PHOTOS]

Serves CHECKPOINT (default checkpoints/celeba64) with `make run`'s launcher and a Redis of its own, posts every
photo in PHOTOS (default ../shared/data/photos) to POST /manipulate with the default crop (every face found,
aligned by its landmarks) for each edit in EDITS, and writes docs/figures/photo_<name>.png: the photo, each edit,
and where each edit changed the photo (black = byte-identical), zoomed on the faces found (all of them, with a
margin). Prints the faces each job reports.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.service_attributes import local_service  # importable once the path above is set

EDITS = (("blond",), ("smiling",), ("-smiling",), ("eyeglasses",))
PANEL_HEIGHT = 256  # pixels of each panel in the figure
CHANGE_GAIN = 4  # the change map shows |edit - photo| times this
MARGIN = 0.8  # the zoom shows the faces' boxes widened by this share of their size on each side


def edit(client: httpx.Client, photo: bytes, attributes: tuple[str, ...]) -> tuple[np.ndarray, dict]:
    answer = client.post("/manipulate", params=[("attr", a) for a in attributes] + [("wait", "60")],
                         files={"image": ("photo.jpg", photo, "image/jpeg")})
    answer.raise_for_status()
    job = client.get(f"/jobs/{answer.headers['X-Job-Id']}").json()
    return np.asarray(Image.open(io.BytesIO(answer.content)).convert("RGB")), job


def panel(image: np.ndarray, caption: str) -> Image.Image:
    height, width = image.shape[:2]
    picture = Image.fromarray(image).resize((round(width * PANEL_HEIGHT / height), PANEL_HEIGHT), Image.LANCZOS)
    ImageDraw.Draw(picture).text((8, 8), caption, fill=(255, 255, 0))
    return picture


def zoom(faces: list[dict], height: int, width: int) -> tuple[slice, slice]:
    """Rows and columns around every face's box, widened by MARGIN (the whole photo when none was found)."""
    if not faces:
        return slice(0, height), slice(0, width)
    left = min(face["box"][0] for face in faces)
    top = min(face["box"][1] for face in faces)
    right = max(face["box"][0] + face["box"][2] for face in faces)
    bottom = max(face["box"][1] + face["box"][3] for face in faces)
    pad_x, pad_y = MARGIN * (right - left), MARGIN * (bottom - top)
    return (slice(max(0, round(top - pad_y)), min(height, round(bottom + pad_y))),
            slice(max(0, round(left - pad_x)), min(width, round(right + pad_x))))


def figure(panels: list[Image.Image], columns: int) -> Image.Image:
    width = max(picture.width for picture in panels)
    rows = -(-len(panels) // columns)
    sheet = Image.new("RGB", (columns * width, rows * PANEL_HEIGHT))
    for index, picture in enumerate(panels):
        sheet.paste(picture, ((index % columns) * width, (index // columns) * PANEL_HEIGHT))
    return sheet


def main(checkpoint: str = "checkpoints/celeba64", photos: str = str(ROOT.parent / "shared" / "data" / "photos")):
    output = ROOT / "docs" / "figures"
    output.mkdir(parents=True, exist_ok=True)
    with local_service(checkpoint) as (url, _), httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
        for path in sorted(Path(photos).glob("*.jpg")):
            original = np.asarray(Image.open(path).convert("RGB"))
            results = []
            for attributes in EDITS:
                result, job = edit(client, path.read_bytes(), attributes)
                label = " ".join(attributes)
                faces = job.get("faces") or []
                distances = [face["identity_distance"] for face in faces if face["changed"]]
                print(f"{path.name} {label}: {len(faces)} faces, {len(distances)} changed, identity distances "
                      f"{[round(d, 2) for d in distances if d is not None]}; pixels changed: "
                      f"{float((result != original).any(axis=2).mean()):.1%}")
                results.append((label, result, faces))
            rows, columns = zoom(results[0][2], *original.shape[:2])
            edits, changes = [panel(original[rows, columns], "photo")], [panel(0 * original[rows, columns], "")]
            for label, result, _ in results:
                change = np.clip(np.abs(result.astype(int) - original.astype(int)) * CHANGE_GAIN, 0, 255)
                edits.append(panel(result[rows, columns], label))
                changes.append(panel(change.astype(np.uint8)[rows, columns], f"{label}: |change| x{CHANGE_GAIN}"))
            figure(edits + changes, len(edits)).save(output / f"photo_{path.stem}.png", optimize=True)
            print("wrote", output / f"photo_{path.stem}.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
