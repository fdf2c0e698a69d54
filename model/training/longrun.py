"""The one long training run that every session continues: start it in the background, stop it cleanly, show it.

    python -m model.training.longrun start     # make train: continue the run (or warm-start it) in the background
    python -m model.training.longrun stop      # make train-stop: SIGTERM, the trainer saves and exits after its step
    python -m model.training.longrun status    # make train-status

The run's state lives outside the repository, in $D2C_RUN_DIR (default ~/.cache/d2c/runs/celeba64): the trainer's
train_state.pt (weights, EMA, optimizer, MoCo queue, RNG, step, images seen, the commits it trained through), a
checkpoint directory's files, train.log and train.pid. With no state there, the run warm-starts from the shipped
checkpoint's weights when its architecture matches the run's config, and from scratch otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from model.checkpoint import CheckpointError, load_config, read_card
from model.config import load_train_config
from model.training.train import STATE

ROOT = Path(__file__).resolve().parents[2]
RUN_CONFIG = ROOT / "model" / "training" / "configs" / "celeba64.json"


@dataclass
class RunSettings:
    run_dir: Path  # where the state, log and pid live (outside the repository)
    data: Path
    config: Path  # the run's TrainConfig JSON
    warm_start: Path  # checkpoint whose weights start a run that has no state yet
    threads: int  # torch threads of each training process
    precision: str
    ranks: int = 1  # DDP processes (torchrun, gloo on the CPU); bench row 8c: 2 ranks x 1 thread beat 1 x 2 here

    @classmethod
    def from_environment(cls) -> RunSettings:
        env = os.environ.get
        return cls(
            run_dir=Path(env("D2C_RUN_DIR", Path.home() / ".cache" / "d2c" / "runs" / "celeba64")).expanduser(),
            data=Path(env("D2C_DATA", ROOT.parent / "shared" / "data" / "celeba64")),
            config=Path(env("D2C_RUN_CONFIG", RUN_CONFIG)),
            warm_start=Path(env("D2C_WARM_START", ROOT / "checkpoints" / "celeba64")),
            threads=int(env("D2C_TRAIN_THREADS", 1)),
            precision=env("D2C_TRAIN_PRECISION", "auto"),
            ranks=int(env("D2C_TRAIN_RANKS", os.cpu_count() or 1)),
        )

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "train.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "train.log"


def running_pid(settings: RunSettings) -> int | None:
    """The training process's pid when it is alive, else None (a stale pid file is removed)."""
    try:
        pid = int(settings.pid_file.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        settings.pid_file.unlink(missing_ok=True)
        return None
    return pid


def warm_start_matches(settings: RunSettings) -> bool:
    """A warm start needs the checkpoint's architecture to be the run's, so every weight carries over."""
    try:
        return load_config(settings.warm_start) == load_train_config(settings.config).model
    except CheckpointError:
        return False


def training_command(settings: RunSettings) -> list[str]:
    launcher = [sys.executable]
    if settings.ranks > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={settings.ranks}"]
    command = [
        *launcher,
        "-m",
        "model.training",
        "--data",
        str(settings.data),
        "--out",
        str(settings.run_dir),
        "--config",
        str(settings.config),
        "--resume",
        "--threads",
        str(settings.threads),
        "--precision",
        settings.precision,
        "--channels-last",
        "--quiet",
    ]
    if not (settings.run_dir / STATE).is_file() and warm_start_matches(settings):
        command += ["--warm-start", str(settings.warm_start)]
    return command


def start(settings: RunSettings) -> int:
    pid = running_pid(settings)
    if pid is not None:
        print(f"already training (pid {pid}); log: {settings.log_file}")
        return pid
    if not settings.data.is_dir():
        raise SystemExit(f"no training data at {settings.data} (set D2C_DATA)")
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    command = training_command(settings)
    how = (
        "continuing " + str(settings.run_dir / STATE)
        if (settings.run_dir / STATE).is_file()
        else f"warm start from {settings.warm_start}"
        if "--warm-start" in command
        else "from scratch"
    )
    with settings.log_file.open("a") as log:
        log.write(f"\n[{time.strftime('%Y-%m-%d %H:%M:%S')}] {how}: {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    settings.pid_file.write_text(str(process.pid))
    print(f"training in the background (pid {process.pid}, {how}); log: {settings.log_file}; stop: make train-stop")
    return process.pid


def stop(settings: RunSettings, timeout: float = 120.0) -> bool:
    """SIGTERM the run and wait for it to save and exit; True when it has stopped."""
    pid = running_pid(settings)
    if pid is None:
        print("not training")
        return True
    for process in _trainers(pid):
        os.killpg(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(settings) is None or _reaped(pid):
            settings.pid_file.unlink(missing_ok=True)
            print(f"stopped; state kept in {settings.run_dir / STATE}")
            return True
        time.sleep(0.2)
    print(f"pid {pid} still running after {timeout:.0f} s")
    return False


def _trainers(pid: int) -> list[int]:
    """The processes that train: torchrun's ranks, else the trainer itself.

    torchrun starts each rank in a session of its own, and its agent answers SIGTERM by SIGKILLing ranks still saving
    after 30 s; so the ranks are told directly, agree to stop at their next step, and torchrun then exits on its own.
    """
    try:
        if b"torch.distributed.run" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return [pid]
    except OSError:  # it has just exited
        return [pid]
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children or [pid]


def _reaped(pid: int) -> bool:
    """True when `pid` is our own child and has exited (a zombie still answers os.kill)."""
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return finished == pid


def status(settings: RunSettings) -> dict:
    training = read_card(settings.run_dir).get("training", {})
    report = {
        "run_dir": str(settings.run_dir),
        "running": running_pid(settings) is not None,
        **{
            key: training[key]
            for key in ("steps", "images_seen", "epochs", "wall_minutes", "last_losses")
            if key in training
        },
    }
    print(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m model.training.longrun", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    settings = RunSettings.from_environment()
    if args.action == "start":
        start(settings)
    elif args.action == "stop":
        sys.exit(0 if stop(settings) else 1)
    else:
        status(settings)


if __name__ == "__main__":
    main()
