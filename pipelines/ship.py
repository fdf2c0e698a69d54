"""make ship: turn the long run into the shipped checkpoint, only when it beats the one shipped now.

    python -m pipelines.ship [--run DIR] [--shipped checkpoints/celeba64] [--prior-minutes 10]

1. stage a copy of the run's checkpoint files beside the shipped directory (never the optimizer state);
2. refine its prior on the frozen encoder's latents (stage two, ``model.training.prior``);
3. measure it on the test split: reconstruction, the 100-shot probe and generation_fd (``pipelines.evaluate``);
4. compare with the shipped checkpoint's card (measured the same way, now, if the card lacks a figure), each figure
   against its noise (``ShipRule``); a candidate that is not better is refused, its staging removed and the
   shipped directory left untouched; either way the decision and all figures go to the run's last_ship.json;
5. a better one gets ONNX export with parity, the built-in attributes (their strengths calibrated by the oracle,
   ``pipelines.calibration``), the oracle's edit and generation figures, and replaces the shipped directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from model.checkpoint import HEAD_FILE, load_config, read_card, update_card
from model.training.longrun import ROOT, RunSettings
from pipelines.evaluate import evaluate

SHIPPED_FILES = ("model.safetensors", "config.json", "card.json", "card.md", "samples.png", "reconstructions.png")
OPTIONAL_FILES = (HEAD_FILE,)  # the few-shot teacher; runs checkpointed before it existed have none
LAST_SHIP = "last_ship.json"  # in the run's directory: the latest decision with both checkpoints' figures
CARRIED_SECTIONS = ("summary", "latent_choice", "latent_comparison")  # prose the run does not write


def paired_change(candidate: list[float], shipped: list[float]) -> tuple[float, float]:
    """Mean of the draw-by-draw differences candidate - shipped, and its standard error (0 for one draw)."""
    if len(candidate) != len(shipped):
        raise ValueError(f"{len(candidate)} draws against {len(shipped)}: measure both checkpoints the same way")
    differences = [a - b for a, b in zip(candidate, shipped)]
    mean = sum(differences) / len(differences)
    if len(differences) < 2:
        return mean, 0.0
    variance = sum((d - mean) ** 2 for d in differences) / (len(differences) - 1)
    return mean, (variance / len(differences)) ** 0.5


@dataclass
class ShipRule:
    """What 'beats the shipped checkpoint' means, figure by figure, each figure against its own noise.

    A difference counts only beyond `noise_multiple` standard errors: over the test images for reconstruction,
    over the paired example draws for the probe and over the paired noise draws for generation_fd. A candidate
    ships when no figure is worse beyond its noise and at least one is better beyond it.
    """

    recon_floor_db: float = 27.0  # reconstruction is a floor, not the objective: below min(floor, shipped) refuses
    noise_multiple: float = 2.0  # standard errors a difference must exceed to count

    def refusals(self, candidate: dict, shipped: dict) -> list[str]:
        """Why `candidate` must not replace `shipped` (an empty list means it ships)."""
        reasons = []
        floor = min(self.recon_floor_db, shipped["recon_psnr_db"])
        if candidate["recon_psnr_db"] < floor:
            reasons.append(f"reconstruction {candidate['recon_psnr_db']:.2f} dB is under {floor:.2f} dB")
        recon = (
            candidate["recon_psnr_db"] - shipped["recon_psnr_db"],
            (candidate["recon_psnr_se"] ** 2 + shipped["recon_psnr_se"] ** 2) ** 0.5,
        )
        probe = paired_change(candidate["probe_draws"], shipped["probe_draws"])
        fd_fall = paired_change(shipped["generation_fd_draws"], candidate["generation_fd_draws"])
        if probe[0] < -self.noise_multiple * probe[1]:
            reasons.append(
                f"100-shot probe {candidate['probe_mean']:.4f} is under the shipped {shipped['probe_mean']:.4f} "
                f"beyond its noise ({probe[0]:+.4f} +- {probe[1]:.4f} over {len(shipped['probe_draws'])} draws)"
            )
        if fd_fall[0] < -self.noise_multiple * fd_fall[1]:
            reasons.append(
                f"generation_fd {candidate['generation_fd']:.2f} is above the shipped {shipped['generation_fd']:.2f} "
                f"beyond its noise ({-fd_fall[0]:+.2f} +- {fd_fall[1]:.2f} over "
                f"{len(shipped['generation_fd_draws'])} draws)"
            )
        gains = [mean > self.noise_multiple * error for mean, error in (recon, probe, fd_fall)]
        if not reasons and not any(gains):
            reasons.append(
                f"no figure improves on the shipped checkpoint beyond its noise (reconstruction {recon[0]:+.3f} "
                f"+- {recon[1]:.3f} dB, probe {probe[0]:+.4f} +- {probe[1]:.4f}, generation_fd {-fd_fall[0]:+.2f} "
                f"+- {fd_fall[1]:.2f})"
            )
        return reasons


FIGURES = ("recon_psnr_db", "probe_mean", "generation_fd")
NOISE = ("recon_psnr_se", "probe_draws", "generation_fd_draws")  # what ShipRule weighs each figure's change against


def run_module(module: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, check=True)


def edit_figures(checkpoint: Path, data: Path, oracle: Path) -> dict:
    """`pipelines.evaluate_conditions` as two one-thread processes side by side, since each is mostly serial: the
    built-ins with generation, and the attributes defined through POST /attributes; one report."""
    common = ["--checkpoint", str(checkpoint), "--data", str(data), "--oracle", str(oracle),
              "--grids", str(checkpoint / "figures"), "--threads", "1"]
    parts = {
        "builtins": ["--user-attributes", "--positives-only"],
        "user_attributes": ["--attributes", "--generate", "0"],
    }
    running = {}
    for part, selection in parts.items():
        report = checkpoint / f".eval_conditions.{part}.json"
        command = [sys.executable, "-m", "pipelines.evaluate_conditions", *common, *selection, "--json", str(report)]
        running[part] = (subprocess.Popen(command, cwd=ROOT, env={**os.environ, "WORKER_THREADS": "1"}), report)
    processes = [process for process, _ in running.values()]
    try:
        while not all(process.poll() == 0 for process in processes):
            failed = [process for process in processes if process.returncode not in (None, 0)]
            if failed:
                raise subprocess.CalledProcessError(failed[0].returncode, failed[0].args)
            time.sleep(5)
    finally:  # one part failing stops the other
        for process in processes:
            if process.poll() is None:
                process.terminate()
    reports = {part: json.loads(report.read_text()) for part, (_, report) in running.items()}
    for _, report in running.values():
        report.unlink()
    merged = reports["builtins"] | {"user_attributes": reports["user_attributes"]["user_attributes"]}
    return merged | {"seconds": max(report["seconds"] for report in reports.values())}


def measured(checkpoint: Path, data: Path, oracle: Path, like: dict, **evaluation) -> dict:
    """The checkpoint's figures from its card, measured now (and recorded) where the card lacks one, its noise, the
    same number of draws as `like` (the candidate's figures), since ShipRule compares them draw by draw, or the
    sampler `like`'s generation_fd was measured with."""
    metrics = read_card(checkpoint).get("metrics", {})
    comparable = (
        all(name in metrics for name in FIGURES + NOISE)
        and all(len(metrics[name]) == len(like[name]) for name in ("probe_draws", "generation_fd_draws"))
        and metrics.get("generation_sampler") == like.get("generation_sampler")
    )
    if not comparable:
        metrics = evaluate(checkpoint, data, split="test", oracle=oracle, **evaluation)
        update_card(checkpoint, metrics=metrics)
    return metrics


def ship(
    run: Path,
    shipped: Path,
    data: Path,
    oracle: Path,
    prior_minutes: float,
    prior_width: int | None = None,
    rule: ShipRule | None = None,
    **evaluation,
) -> bool:
    """`evaluation`: keyword arguments of pipelines.evaluate.evaluate (probe attributes, shots) for both checkpoints."""
    rule = rule or ShipRule()
    staging = shipped.with_name(f".{shipped.name}.staging")
    # 1. stage the run's checkpoint files
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in SHIPPED_FILES + tuple(name for name in OPTIONAL_FILES if (run / name).is_file()):
        shutil.copy2(run / name, staging / name)
    # 2. stage two: the prior on frozen latents
    if prior_minutes > 0:
        width = ["--width", str(prior_width)] if prior_width else []
        run_module(
            "model.training.prior",
            "--checkpoint",
            str(staging),
            "--data",
            str(data),
            "--minutes",
            str(prior_minutes),
            *width,
        )
    # 3-4. the figures, side by side with the shipped checkpoint's
    candidate = evaluate(staging, data, split="test", oracle=oracle, **evaluation)
    current = measured(shipped, data, oracle, candidate, **evaluation) if shipped.is_dir() else None
    print(
        json.dumps(
            {"candidate": {k: candidate[k] for k in FIGURES}, "shipped": current and {k: current[k] for k in FIGURES}},
            indent=2,
        )
    )
    reasons = rule.refusals(candidate, current) if current else []
    # the decision and every figure behind it stay with the run, shipped or not
    training = read_card(run).get("training", {})
    decision = {"candidate": candidate, "shipped": current, "refusals": reasons, "training": training}
    (run / LAST_SHIP).write_text(json.dumps(decision, indent=2) + "\n")
    if reasons:
        shutil.rmtree(staging)
        print("not shipped: " + "; ".join(reasons))
        return False
    # 5. everything the service loads, then the swap
    update_card(
        staging,
        metrics=candidate,
        **{
            key: value
            for key, value in read_card(shipped).items()
            if key in CARRIED_SECTIONS or (key == "ablation" and load_config(shipped) == load_config(staging))
        },
    )
    run_module("pipelines.export", "--checkpoint", str(staging))
    run_module("pipelines.builtins", "--checkpoint", str(staging), "--data", str(data), "--oracle", str(oracle))
    conditions = edit_figures(staging, data, oracle)
    (staging / "eval_conditions.json").write_text(json.dumps(conditions, indent=2) + "\n")
    update_card(
        staging,
        conditions={
            name: {direction: result[direction]["paper"] for direction in ("add", "remove")}
            for name, result in (conditions["edit"] | conditions["user_attributes"]).items()
        }
        | {"generation": conditions["generation"]},
    )
    (staging / "eval_test.json").write_text(json.dumps(candidate, indent=2) + "\n")
    previous = shipped.with_name(f".{shipped.name}.previous")
    shutil.rmtree(previous, ignore_errors=True)
    if shipped.is_dir():
        shipped.rename(previous)
    staging.rename(shipped)
    shutil.rmtree(previous, ignore_errors=True)
    print(f"shipped to {shipped}")
    return True


def main(argv: list[str] | None = None) -> None:
    settings = RunSettings.from_environment()
    parser = argparse.ArgumentParser(prog="python -m pipelines.ship", description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=settings.run_dir, help="the run's directory ($D2C_RUN_DIR)")
    parser.add_argument("--shipped", type=Path, default=ROOT / "checkpoints" / "celeba64")
    parser.add_argument("--data", type=Path, default=settings.data)
    parser.add_argument("--oracle", type=Path, default=ROOT / "checkpoints" / "oracle-celeba64")
    parser.add_argument("--prior-minutes", type=float, default=30.0, help="stage two at most this long (0 skips it)")
    parser.add_argument("--prior-width", type=int, help="stage two trains a new denoiser this wide")
    args = parser.parse_args(argv)
    sys.exit(0 if ship(args.run, args.shipped, args.data, args.oracle, args.prior_minutes, args.prior_width) else 1)


if __name__ == "__main__":
    main()
