"""python -m workers --count N [--device cpu|cuda] [--backend auto|torch|onnx]: start and supervise N worker processes.

On GPU hosts each process sees one GPU (CUDA_VISIBLE_DEVICES). Unless WORKER_THREADS is set, each process gets
`workers.threads.chosen_threads(N)` CPU threads, so the N processes do not oversubscribe the cores. Ctrl-C or
SIGTERM stops them all; a process that dies is started again (RQ re-queues the job it was running), unless it
failed at start (bad checkpoint).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from workers.errors import STARTUP_FAILED
from workers.threads import chosen_threads

RESTART_DELAY_SECONDS = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1, help="worker processes (on cuda: one per GPU)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                        help="auto: ONNX Runtime on the CPU when the checkpoint has its export, else torch")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    return args


def worker_environment(index: int, args: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    """Worker process `index`'s environment: its GPU, and its share of the CPU unless WORKER_THREADS says."""
    env = dict(environ)
    if not env.get("WORKER_THREADS"):
        env["WORKER_THREADS"] = str(chosen_threads(args.count))
    if args.device == "cuda":
        # one GPU per process, chosen among those this host already exposes (all of them when unset)
        visible = [device for device in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if device.strip()]
        env["CUDA_VISIBLE_DEVICES"] = visible[index % len(visible)] if visible else str(index)
    return env


def spawn(index: int, args: argparse.Namespace) -> subprocess.Popen:
    command = [sys.executable, "-m", "workers.process", "--device", args.device, "--backend", args.backend]
    return subprocess.Popen(command, env=worker_environment(index, args, dict(os.environ)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stopping, status = False, 0

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    processes = [spawn(index, args) for index in range(args.count)]
    while not stopping:
        time.sleep(0.5)
        for index, process in enumerate(processes):
            code = process.poll()
            if code is None or stopping:
                continue
            if code == STARTUP_FAILED:
                print(f"worker {index} could not start (see its log); stopping", file=sys.stderr, flush=True)
                stopping, status = True, STARTUP_FAILED
            else:
                print(f"worker {index} exited with {process.returncode}; restarting", file=sys.stderr, flush=True)
                time.sleep(RESTART_DELAY_SECONDS)
                processes[index] = spawn(index, args)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return status


if __name__ == "__main__":
    sys.exit(main())
