"""Export a checkpoint to ONNX and record the torch-vs-ONNX parity in its card.

python -m pipelines.export --checkpoint checkpoints/celeba64
"""

from __future__ import annotations

import argparse

from model.checkpoint import update_card
from model.onnx import export


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.export", description="Export a D2C checkpoint to ONNX")
    parser.add_argument("--checkpoint", required=True)
    args = parser.parse_args(argv)
    parity = export(args.checkpoint)
    update_card(args.checkpoint, export={"onnx_opset": 18, "parity_max_abs_diff": parity})
    for name, diff in parity.items():
        print(f"{name}: max |torch - onnx| = {diff:.2e}")


if __name__ == "__main__":
    main()
