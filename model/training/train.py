"""Joint D2C training (paper Eq. 4): encoder, decoder and latent diffusion prior together, plus MoCo-v2.

    python -m model.training --data ../shared/data/celeba64 --out runs/celeba64 --max-minutes 120
    torchrun --nproc-per-node 2 -m model.training --data ... --out ...      # DDP, any number of nodes
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import distributed as dist
from tqdm import tqdm

from model.card import CELEBA_TERMS
from model.checkpoint import WEIGHTS, load_config, read_card, save_model, update_card
from model.config import TrainConfig, load_train_config, to_dict, train_config_from_dict
from model.data import load_dataset
from model.images import save_grid
from model.training.step import build_trainer

STATE = "train_state.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model.training", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="dataset folder (celeba64, CelebA or plain image layout)")
    parser.add_argument("--out", required=True, help="output checkpoint directory")
    parser.add_argument("--config", help="JSON file of TrainConfig fields (nested 'model' for ModelConfig)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a TrainConfig field")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    parser.add_argument("--warm-start", metavar="CHECKPOINT", help="with no state to resume, start from this checkpoint's weights")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (under torchrun: the local rank's GPU)")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop once the run has trained this long in all")
    parser.add_argument("--for-minutes", type=float, default=0.0, help="stop after training this long in this invocation")
    parser.add_argument("--split", default="train", help="split of a labelled dataset to train on")
    parser.add_argument("--limit", type=int, help="use only the first N images")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16", help="autocast dtype")
    parser.add_argument("--channels-last", action="store_true", help="NHWC activations (faster convolutions on CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> TrainConfig:
    config = load_train_config(args.config)
    values = to_dict(config)
    for override in args.set:
        key, _, raw = override.partition("=")
        target = values
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        if leaf not in target:
            raise SystemExit(f"--set: unknown config key {key!r}")
        target[leaf] = json.loads(raw)
    return train_config_from_dict(values)


def warm_start(trainer, checkpoint: Path, config: TrainConfig) -> dict | None:
    """Load a checkpoint's weights into a fresh run and return the training it already had (images, minutes,
    commits); None when its architecture differs from the run's, so that not every weight would carry over."""
    if load_config(checkpoint) != config.model:
        return None
    trainer.warm_start(load_file(str(checkpoint / WEIGHTS), device=str(trainer.model.device)))
    before = read_card(checkpoint).get("training", {})
    return {"images_seen": int(before.get("images_seen", 0)), "wall_minutes": float(before.get("wall_minutes", 0.0)),
            "commits": list(before.get("commits", [before["git_commit"]] if "git_commit" in before else []))}


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def hardware(device: torch.device, world_size: int) -> str:
    if device.type == "cuda":
        return f"{world_size} x {torch.cuda.get_device_name(device)}"
    return f"{world_size} process(es) x {torch.get_num_threads()} thread(s) on {platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = build_config(args)
    out = Path(args.out)

    # 1. processes: one per device under torchrun (gloo on CPU, nccl on CUDA), else a single process
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if world_size > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if args.threads:
        torch.set_num_threads(args.threads)
    if config.batch_size % world_size:
        raise SystemExit(f"batch_size {config.batch_size} is not divisible by {world_size} processes")
    local_batch = config.batch_size // world_size
    torch.manual_seed(config.seed + rank)

    # 2. data, decoded once into memory
    dataset = load_dataset(args.data, split=args.split, resolution=config.model.resolution, limit=args.limit)
    if len(dataset) < config.batch_size:
        raise SystemExit(f"{len(dataset)} images is fewer than one batch of {config.batch_size}")
    steps_per_epoch = len(dataset) // config.batch_size

    # 3. model, EMA copy for shipping, MoCo key networks, optimizer
    trainer = build_trainer(config, device, distributed=world_size > 1, precision=args.precision, channels_last=args.channels_last)
    model, ema = trainer.model, trainer.ema

    # 4. resume: the step counter, optimizer, EMA, queue and RNG continue where the last checkpoint left them;
    #    with no state, a warm start takes a checkpoint's weights (and its training so far) with a fresh optimizer
    elapsed, history = 0.0, {"images_seen": 0, "wall_minutes": 0.0, "commits": []}
    if args.resume and (out / STATE).is_file():
        state = torch.load(out / STATE, map_location=device, weights_only=True)
        trainer.load_state_dict(state)
        elapsed, history = state["elapsed_seconds"], json.loads(state.get("history", json.dumps(history)))
        torch.set_rng_state(state["rng"][rank % len(state["rng"])])
    elif args.warm_start and (carried := warm_start(trainer, Path(args.warm_start), config)) is not None:
        history = carried
        if rank == 0:
            print(f"no state in {out}: warm start from {args.warm_start} ({history['images_seen']} images seen)", flush=True)
    elif rank == 0 and (args.resume or args.warm_start):
        print(f"no state in {out} and no checkpoint of this architecture to warm-start from: starting from scratch", flush=True)
    history["commits"] = list(dict.fromkeys([*history["commits"], git_commit()]))
    images_before, start_step, elapsed_before = history["images_seen"], trainer.step_count, elapsed
    preview_images = dataset.float_images(slice(0, 8)).to(device)

    def replicas_in_sync() -> bool:
        """DDP keeps every rank's weights equal; check it at each checkpoint rather than trust it."""
        checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
        gathered = [torch.empty_like(checksum) for _ in range(world_size)]
        dist.all_gather(gathered, checksum)
        return all(torch.equal(gathered[0], other) for other in gathered)

    def save_checkpoint() -> None:
        rngs = [torch.get_rng_state()]
        in_sync = True
        if world_size > 1:
            rngs = [torch.empty_like(rngs[0]) for _ in range(world_size)]
            dist.all_gather_object(rngs, torch.get_rng_state())
            in_sync = replicas_in_sync()
            if not in_sync:
                raise RuntimeError("DDP replicas diverged: ranks hold different weights")
        if rank != 0:
            return
        out.mkdir(parents=True, exist_ok=True)
        images_seen = images_before + (trainer.step_count - start_step) * config.batch_size
        state = {**trainer.state_dict(), "elapsed_seconds": elapsed, "rng": rngs, "config": json.dumps(to_dict(config)),
                 "history": json.dumps({**history, "images_seen": images_seen, "wall_minutes": history["wall_minutes"]})}
        torch.save(state, out / (STATE + ".partial"))
        os.replace(out / (STATE + ".partial"), out / STATE)
        save_model(out, ema)
        generator = torch.Generator(device=device).manual_seed(0)
        save_grid(ema.decode(ema.sample(32, steps=50, generator=generator)), out / "samples.png")
        save_grid(torch.cat([preview_images, ema.decode(ema.encode(preview_images))]), out / "reconstructions.png")
        update_card(
            out,
            data={"path": str(Path(args.data).resolve()), "layout": dataset.layout, "split": args.split, "images": len(dataset)},
            training={
                "steps": trainer.step_count, "images_seen": images_seen, "epochs": round(images_seen / len(dataset), 2),
                "wall_minutes": round(history["wall_minutes"] + elapsed / 60, 1), "run_minutes": round(elapsed / 60, 1),
                "commits": history["commits"], "hardware": hardware(device, world_size),
                "precision": args.precision, "torch": torch.__version__, "git_commit": git_commit(),
                "world_size": world_size, "replicas_in_sync": in_sync,
                "last_losses": {name: round(value, 4) for name, value in running.items()},
                "config": to_dict(config),
            },
            terms=CELEBA_TERMS,
        )

    stop_requested = False

    def request_stop(signum, frame) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    # 5. the loop: one optimizer step per batch, checkpoint every few minutes
    running: dict[str, float] = {}
    progress = tqdm(initial=trainer.step_count, disable=args.quiet or rank != 0, dynamic_ncols=True, desc="train")
    last_save, last_tick = time.monotonic(), time.monotonic()
    order, order_epoch = None, -1
    while True:
        # 5a. the data order is a function of (seed, epoch), so a resumed run sees the batches it would have seen
        epoch, offset = divmod(trainer.step_count, steps_per_epoch)
        if epoch != order_epoch:
            order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(config.seed * 100003 + epoch))
            order_epoch = epoch
        start = offset * config.batch_size + rank * local_batch
        images = dataset.float_images(order[start : start + local_batch]).to(device)
        flip = torch.rand(len(images), device=device) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(3), images)

        # 5b. one optimizer step; the EMA weights are what ships
        terms = trainer.step(images)

        # 5c. bookkeeping: running losses, wall time, and a stop/save decision every rank agrees on
        for name, value in terms.items():
            value = float(value.detach())
            running[name] = 0.98 * running.get(name, value) + 0.02 * value
        now = time.monotonic()
        elapsed += now - last_tick
        last_tick = now
        progress.update(1)
        if trainer.step_count % 10 == 0:
            progress.set_postfix({name: f"{value:.3g}" for name, value in running.items()})
        out_of_time = ((args.max_minutes and elapsed >= args.max_minutes * 60)
                       or (args.for_minutes and elapsed - elapsed_before >= args.for_minutes * 60))
        out_of_steps = config.max_steps and trainer.step_count >= config.max_steps
        decision = torch.tensor([float(stop_requested or out_of_time or out_of_steps), float(now - last_save >= config.checkpoint_minutes * 60)])
        if world_size > 1:
            dist.all_reduce(decision, op=dist.ReduceOp.MAX)
        stop, save = bool(decision[0]), bool(decision[1])
        if save or stop:
            save_checkpoint()
            last_save = time.monotonic()
            last_tick = last_save
            if rank == 0 and not args.quiet:
                progress.write(f"step {trainer.step_count}: checkpoint written to {out} ({elapsed / 60:.1f} min trained)")
        if stop:
            break
    progress.close()
    if world_size > 1:
        dist.destroy_process_group()
