"""CPU threads per worker process: the supervisor shares the cores among its processes unless WORKER_THREADS says."""
from __future__ import annotations

import pytest

from workers.__main__ import parse_args, worker_environment
from workers.threads import available_cores, chosen_threads


@pytest.mark.parametrize(("processes", "cores", "threads"), [(1, 2, 1), (1, 16, 15), (4, 16, 3), (8, 4, 1), (2, 1, 1)])
def test_workers_leave_a_core_and_share_the_rest(processes, cores, threads):
    assert chosen_threads(processes, cores) == threads


def test_the_supervisor_gives_each_process_its_share_unless_told():
    args = parse_args(["--count", "2"])
    assert worker_environment(0, args, {})["WORKER_THREADS"] == str(max(1, (available_cores() - 1) // 2))
    assert worker_environment(1, args, {"WORKER_THREADS": "3"})["WORKER_THREADS"] == "3"
    assert worker_environment(0, args, {"WORKER_THREADS": "0"})["WORKER_THREADS"] == "0"  # 0: torch's default


def test_each_gpu_process_still_gets_its_own_device():
    args = parse_args(["--count", "2", "--device", "cuda"])
    environ = {"CUDA_VISIBLE_DEVICES": "4,7"}
    assert [worker_environment(index, args, environ)["CUDA_VISIBLE_DEVICES"] for index in range(2)] == ["4", "7"]
