from contract.settings import WorkerSettings


def test_an_empty_variable_means_unset_as_compose_passes_it(monkeypatch):
    monkeypatch.setenv("WORKER_THREADS", "")
    assert WorkerSettings().worker_threads is None
    monkeypatch.setenv("WORKER_THREADS", "3")
    assert WorkerSettings().worker_threads == 3
