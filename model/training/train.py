"""Joint D2C training (paper Eq. 4): encoder, decoder and latent diffusion prior together, plus MoCo-v2.

``train(config, dataset, options)`` is the loop; ``model.training.cli`` is its command line. A run directory
holds train_state.pt (everything needed to continue exactly), the EMA weights as a checkpoint, its card and
preview grids; the card counts the images, epochs, minutes and commits of the whole run, warm start included.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import distributed as dist
from tqdm import tqdm

from model.card import CELEBA_TERMS
from model.checkpoint import WEIGHTS, load_config, load_head, read_card, save_head, save_model, update_card
from model.config import TrainConfig, to_dict
from model.data import FaceDataset
from model.images import save_grid
from model.training.step import Trainer, build_trainer

STATE = "train_state.pt"


@dataclass
class RunOptions:
    out: Path  # the run directory
    data: Path  # recorded in the card
    split: str = "train"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world_size: int = 1
    resume: bool = False  # continue from out/train_state.pt when it exists
    warm_start: Path | None = None  # else start from this checkpoint's weights, when its architecture matches
    precision: str = "bf16"
    channels_last: bool = False
    max_minutes: float = 0.0  # stop once the whole run has trained this long (0: no limit)
    for_minutes: float = 0.0  # stop once this invocation has trained this long (0: no limit)
    quiet: bool = False


@dataclass
class RunRecord:
    """What the card says about the whole run: training before this run's state began, plus this run's."""

    images_before: int = 0  # images seen by the warm-start checkpoint (or earlier invocations)
    minutes_before: float = 0.0  # wall minutes of the warm-start checkpoint's own training
    commits: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0  # this run's training-loop time, all invocations together
    start_step: int = 0  # the trainer's step when this invocation began


def warm_start(trainer: Trainer, checkpoint: Path, config: TrainConfig) -> RunRecord | None:
    """Load a checkpoint's weights into a fresh run and return the training it already had (images, minutes,
    commits); None when its architecture differs from the run's, so that not every weight would carry over."""
    if load_config(checkpoint) != config.model:
        return None
    device = trainer.model.device
    trainer.warm_start(load_file(str(checkpoint / WEIGHTS), device=str(device)), load_head(checkpoint, device))
    before = read_card(checkpoint).get("training", {})
    commits = before.get("commits", [before["git_commit"]] if "git_commit" in before else [])
    return RunRecord(int(before.get("images_seen", 0)), float(before.get("wall_minutes", 0.0)), list(commits))


def git_commit() -> str:
    """The code's commit: D2C_GIT_COMMIT where the copy has no git history (a device machine), else git's HEAD."""
    if os.environ.get("D2C_GIT_COMMIT"):
        return os.environ["D2C_GIT_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[2]
        command = ["git", "-C", str(root), "rev-parse", "HEAD"]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def hardware(device: torch.device, world_size: int) -> str:
    if device.type == "cuda":
        return f"{world_size} x {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    return f"{world_size} process(es) x {torch.get_num_threads()} thread(s) on {cpu} ({os.cpu_count()} cores)"


def replicas_in_sync(trainer: Trainer, world_size: int) -> bool:
    """DDP keeps every rank's weights equal; check it at each checkpoint rather than trust it."""
    checksum = torch.stack([p.detach().double().sum() for p in trainer.model.parameters()]).sum().reshape(1)
    gathered = [torch.empty_like(checksum) for _ in range(world_size)]
    dist.all_gather(gathered, checksum)
    return all(torch.equal(gathered[0], other) for other in gathered)


def save_checkpoint(
    trainer: Trainer, dataset: FaceDataset, options: RunOptions, record: RunRecord, losses: dict[str, float]
) -> None:
    """The state to continue from, the EMA weights as a checkpoint, preview grids and the card (rank 0 writes)."""
    rngs, in_sync = [torch.get_rng_state()], True
    if options.world_size > 1:
        rngs = [torch.empty_like(rngs[0]) for _ in range(options.world_size)]
        dist.all_gather_object(rngs, torch.get_rng_state())
        in_sync = replicas_in_sync(trainer, options.world_size)
        if not in_sync:
            raise RuntimeError("DDP replicas diverged: ranks hold different weights")
    if options.rank != 0:
        return
    config, out, ema = trainer.config, options.out, trainer.ema
    out.mkdir(parents=True, exist_ok=True)
    images_seen = record.images_before + (trainer.step_count - record.start_step) * config.batch_size
    history = {"images_seen": images_seen, "wall_minutes": record.minutes_before, "commits": record.commits}
    state = {
        **trainer.state_dict(),
        "elapsed_seconds": record.elapsed_seconds,
        "rng": rngs,
        "config": json.dumps(to_dict(config)),
        "history": json.dumps(history),
    }
    torch.save(state, out / (STATE + ".partial"))
    os.replace(out / (STATE + ".partial"), out / STATE)
    save_model(out, ema)
    save_head(out, trainer.head.state_dict())
    generator = torch.Generator(device=options.device).manual_seed(0)
    preview = dataset.float_images(slice(0, 8)).to(options.device)
    save_grid(ema.decode(ema.sample(32, generator=generator)), out / "samples.png")
    save_grid(torch.cat([preview, ema.decode(ema.encode(preview))]), out / "reconstructions.png")
    update_card(
        out,
        data={
            "path": str(options.data.resolve()),
            "layout": dataset.layout,
            "split": options.split,
            "images": len(dataset),
        },
        training={
            "steps": trainer.step_count,
            "images_seen": images_seen,
            "epochs": round(images_seen / len(dataset), 2),
            "wall_minutes": round(record.minutes_before + record.elapsed_seconds / 60, 1),
            "run_minutes": round(record.elapsed_seconds / 60, 1),
            "commits": record.commits,
            "hardware": hardware(options.device, options.world_size),
            "precision": options.precision,
            "torch": torch.__version__,
            "git_commit": git_commit(),
            "world_size": options.world_size,
            "replicas_in_sync": in_sync,
            "last_losses": {name: round(value, 4) for name, value in losses.items()},
            "config": to_dict(config),
        },
        terms=CELEBA_TERMS,
    )


def train(config: TrainConfig, dataset: FaceDataset, options: RunOptions) -> Trainer:
    """Train until SIGTERM/SIGINT, --max-minutes, --for-minutes or max_steps; checkpoint every few minutes."""
    torch.manual_seed(config.seed + options.rank)
    local_batch = config.batch_size // options.world_size
    steps_per_epoch = len(dataset) // config.batch_size
    say = print if options.rank == 0 else (lambda *_, **__: None)

    # 1. model, EMA copy for shipping, MoCo key networks, optimizer
    trainer = build_trainer(
        config,
        options.device,
        distributed=options.world_size > 1,
        precision=options.precision,
        channels_last=options.channels_last,
    )

    # 2. resume: the step counter, optimizer, EMA, queue and RNG continue where the last checkpoint left them;
    #    with no state, a warm start takes a checkpoint's weights (and its training so far) with a fresh optimizer
    record = RunRecord()
    if options.resume and (options.out / STATE).is_file():
        state = torch.load(options.out / STATE, map_location=options.device, weights_only=True)
        trainer.load_state_dict(state)
        history = json.loads(state.get("history", "{}"))
        record = RunRecord(
            history.get("images_seen", trainer.step_count * config.batch_size),
            history.get("wall_minutes", 0.0),
            history.get("commits", []),
            state["elapsed_seconds"],
        )
        torch.set_rng_state(state["rng"][options.rank % len(state["rng"])])
    elif options.warm_start and (carried := warm_start(trainer, options.warm_start, config)) is not None:
        record = carried
        say(
            f"no state in {options.out}: warm start from {options.warm_start} ({record.images_before} images seen)",
            flush=True,
        )
    elif options.resume or options.warm_start:
        say(
            f"no state in {options.out} and no checkpoint of this architecture to warm-start from: from scratch",
            flush=True,
        )
    record.commits = list(dict.fromkeys([*record.commits, git_commit()]))
    record.start_step, elapsed_before = trainer.step_count, record.elapsed_seconds

    # 3. SIGTERM and SIGINT finish the current step, save and stop
    stop_requested = False

    def request_stop(signum, frame) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    # 4. the loop: one optimizer step per batch
    losses: dict[str, float] = {}
    progress = tqdm(
        initial=trainer.step_count, disable=options.quiet or options.rank != 0, dynamic_ncols=True, desc="train"
    )
    last_save = last_tick = time.monotonic()
    order, order_epoch = None, -1
    while True:
        # 4a. the data order is a function of (seed, epoch), so a resumed run sees the batches it would have seen
        epoch, offset = divmod(trainer.step_count, steps_per_epoch)
        if epoch != order_epoch:
            order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(config.seed * 100003 + epoch))
            order_epoch = epoch
        start = offset * config.batch_size + options.rank * local_batch
        images = dataset.float_images(order[start : start + local_batch]).to(options.device)
        flip = torch.rand(len(images), device=options.device) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(3), images)

        # 4b. one optimizer step; the EMA weights are what ships
        terms = trainer.step(images)

        # 4c. bookkeeping: running losses, wall time, and a stop/save decision every rank agrees on
        for name, value in terms.items():
            value = float(value.detach())
            losses[name] = 0.98 * losses.get(name, value) + 0.02 * value
        now = time.monotonic()
        record.elapsed_seconds += now - last_tick
        last_tick = now
        progress.update(1)
        if trainer.step_count % 10 == 0:
            progress.set_postfix({name: f"{value:.3g}" for name, value in losses.items()})
        out_of_time = (options.max_minutes and record.elapsed_seconds >= options.max_minutes * 60) or (
            options.for_minutes and record.elapsed_seconds - elapsed_before >= options.for_minutes * 60
        )
        out_of_steps = config.max_steps and trainer.step_count >= config.max_steps
        due = now - last_save >= config.checkpoint_minutes * 60
        decision = torch.tensor([float(stop_requested or out_of_time or out_of_steps), float(due)])
        if options.world_size > 1:
            dist.all_reduce(decision, op=dist.ReduceOp.MAX)
        stop, save = bool(decision[0]), bool(decision[1])

        # 4d. checkpoint every few minutes and at the stop
        if save or stop:
            save_checkpoint(trainer, dataset, options, record, losses)
            last_save = last_tick = time.monotonic()
            if options.rank == 0 and not options.quiet:
                progress.write(
                    f"step {trainer.step_count}: checkpoint in {options.out} ({record.elapsed_seconds / 60:.1f} min)"
                )
        if stop:
            break
    progress.close()
    return trainer
