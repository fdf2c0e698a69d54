"""What a lent GPU machine needs to continue the long run, small enough to travel with the repository (64 MiB).

A device call copies the repository's tracked files (45 MB, most of it checkpoints/) and what it is told to carry;
the training images (../shared/data/celeba64) and the run's state (~/.cache/d2c/runs/celeba64) stay behind. So:

    python scripts/gpu_payload.py pack       # .gpu/: the run's latest checkpoint + the train split's JPEG bytes
    python scripts/gpu_payload.py aside      # checkpoints/ and docs/ leave the git index (files stay on disk)
    # device: python3 scripts/gpu_payload.py unpack && scripts/train_gpu.sh 8, carrying .gpu (README, "On a GPU")
    python scripts/gpu_payload.py restore    # both back in the index
    python scripts/gpu_payload.py receive DIR  # the checkpoint the device returned becomes the run's warm start

The checkpoint is the run's EMA weights with the whole MoCo head and its card (images seen, minutes, commits), so
the GPU run warm-starts from it with a fresh optimizer, and the CPU run from what comes back; the images are the
dataset's own JPEG files, byte for byte, deflated together (their repeated headers and tables: 47 -> ~30 MB).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.checkpoint import CARD_JSON, CONFIG, HEAD_FILE, WEIGHTS
from model.training.longrun import RunSettings

PAYLOAD = ROOT / ".gpu"
START, IMAGES = "start", "train_images.npz"  # the checkpoint to warm-start from; the packed train split
COMMIT = "commit"  # the repository's commit when packed
CHECKPOINT_FILES = (CONFIG, WEIGHTS, HEAD_FILE, CARD_JSON)
SET_ASIDE = ("checkpoints", "docs")  # tracked, 41 and 1.6 MiB, and not needed to train: left behind on a device call
EXCLUDE = ROOT / ".git" / "info" / "exclude"
TRAVEL_LIMIT = 64 * 2**20  # bytes a device call copies at most: the working tree and the carried paths together


def pack(run_dir: Path, data: Path, out: Path, shipped: Path) -> None:
    """The run's checkpoint (or the shipped one when the run has none) and the train split, into `out`."""
    source = run_dir if (run_dir / WEIGHTS).is_file() else shipped
    start = out / START
    start.mkdir(parents=True, exist_ok=True)
    for name in CHECKPOINT_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, start / name)
    with open(data / "attributes.csv", newline="") as file:
        reader = csv.DictReader(file)
        header, rows = reader.fieldnames, [row for row in reader if row["split"] == "train"]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    blobs = [(data / row["file"]).read_bytes() for row in rows]
    np.savez_compressed(
        out / IMAGES,
        files=np.array([row["file"] for row in rows]),
        offsets=np.cumsum([0] + [len(blob) for blob in blobs]),
        jpeg=np.frombuffer(b"".join(blobs), dtype=np.uint8),
        attributes=np.frombuffer(table.getvalue().encode(), dtype=np.uint8),
    )
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    (out / COMMIT).write_text(commit.stdout)  # the device's copy has no git history; its card records this one
    print(f"packed {source} and {len(rows)} train images into {out} ({folder_bytes(out) / 2**20:.1f} MiB)")
    report_travel(out)


def unpack(payload: Path, data: Path) -> None:
    """The train split back into a celeba64 folder: attributes.csv (train rows) and the JPEG files."""
    packed = np.load(payload / IMAGES)
    (data / "train").mkdir(parents=True, exist_ok=True)
    (data / "attributes.csv").write_bytes(packed["attributes"].tobytes())
    offsets, jpeg = packed["offsets"], packed["jpeg"]
    for index, name in enumerate(packed["files"]):
        (data / str(name)).write_bytes(jpeg[offsets[index] : offsets[index + 1]].tobytes())
    print(f"unpacked {len(packed['files'])} train images into {data}")


def git(*arguments: str) -> None:
    subprocess.run(["git", "-C", str(ROOT), *arguments], check=True)


def aside() -> None:
    """SET_ASIDE out of the git index and ignored, so a device call does not copy them; their files stay on disk."""
    lines = EXCLUDE.read_text().splitlines() if EXCLUDE.is_file() else []
    with EXCLUDE.open("a") as file:
        file.writelines(f"/{folder}/\n" for folder in SET_ASIDE if f"/{folder}/" not in lines)
    git("rm", "-r", "-q", "--cached", *SET_ASIDE)
    report_travel(PAYLOAD)


def restore() -> None:
    """SET_ASIDE back in the index as committed (their files were never touched) and no longer ignored."""
    ignored = {f"/{folder}/" for folder in SET_ASIDE}
    EXCLUDE.write_text("".join(f"{line}\n" for line in EXCLUDE.read_text().splitlines() if line not in ignored))
    git("reset", "-q", "--", *SET_ASIDE)
    print(f"{', '.join(SET_ASIDE)} tracked again: `git status` shows no change there")


def receive(checkpoint: Path, run_dir: Path) -> None:
    """Move the CPU run's state aside, so that `make train` warm-starts from the checkpoint the GPU run returned."""
    missing = [name for name in CHECKPOINT_FILES if not (checkpoint / name).is_file()]
    if missing:
        sys.exit(f"{checkpoint} lacks {', '.join(missing)}: not a checkpoint the GPU run wrote")
    if run_dir.exists():
        kept = run_dir.with_name(run_dir.name + ".before-gpu")
        if kept.exists():
            sys.exit(f"{kept} holds an earlier run's state: move it away first")
        run_dir.rename(kept)
        print(f"the CPU run's state is kept in {kept}")
    print(f"now: D2C_WARM_START={checkpoint} make train")


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def report_travel(payload: Path) -> None:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    tree = sum((ROOT / name).stat().st_size for name in listed if name and (ROOT / name).is_file())
    total = tree + folder_bytes(payload)
    verdict = "fits" if total <= TRAVEL_LIMIT else f"too large: run `python {Path(__file__).name} aside` first"
    print(f"a device call carrying {payload.name} copies {total / 2**20:.1f} MiB "
          f"(repository {tree / 2**20:.1f} MiB): {verdict}")


def main() -> None:
    settings = RunSettings.from_environment()  # the run make train continues: $D2C_RUN_DIR, $D2C_DATA
    parser = argparse.ArgumentParser(prog="python scripts/gpu_payload.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="write .gpu/ from the run's checkpoint and the train split")
    packing.add_argument("--run-dir", type=Path, default=settings.run_dir)
    packing.add_argument("--data", type=Path, default=settings.data)
    packing.add_argument("--out", type=Path, default=PAYLOAD)
    unpacking = commands.add_parser("unpack", help="on the device: .gpu/ -> a celeba64 folder of the train split")
    unpacking.add_argument("--payload", type=Path, default=PAYLOAD)
    unpacking.add_argument("--data", type=Path, default=Path("/tmp/celeba64"))
    commands.add_parser("aside", help="take checkpoints/ out of the git index before a device call")
    commands.add_parser("restore", help="put checkpoints/ back in the git index after it")
    receiving = commands.add_parser("receive", help="make the returned checkpoint the CPU run's warm start")
    receiving.add_argument("checkpoint", type=Path)
    receiving.add_argument("--run-dir", type=Path, default=settings.run_dir)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.run_dir, args.data, args.out, settings.warm_start)
    elif args.command == "unpack":
        unpack(args.payload, args.data)
    elif args.command == "aside":
        aside()
    elif args.command == "restore":
        restore()
    else:
        receive(args.checkpoint, args.run_dir)


if __name__ == "__main__":
    main()
