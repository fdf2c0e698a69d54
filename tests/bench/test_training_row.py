"""Row 8 times the long run in the precision `make train` picks on the machine, and bf16 against fp32 beside it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench import training

# images/s stand-ins, one per timed setting, so each ratio says which settings it divided
RATES = {"shipped config as trained": 10.0, "long run in bf16": 30.0, "long run in fp32": 20.0,
         "long run on threads of one process": 15.0}


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_row_8_times_the_long_run_in_the_precision_make_train_picks(monkeypatch, tmp_path, precision):
    timed = []

    def rate(bench, config, setting, batch, warmup, steps):
        timed.append(setting)
        return RATES[setting.name]

    monkeypatch.setattr(training, "images_per_second", rate)
    monkeypatch.setattr(training, "quality_after", lambda *args: {"recon_psnr_db": 20.0, "probe_mean": 0.7})
    monkeypatch.setattr(training, "native_precision", lambda device: precision)
    monkeypatch.setattr(training, "read_card", lambda path: {"training": {"config": {"batch_size": 32}}})
    (tmp_path / "faces").mkdir()
    bench = SimpleNamespace(
        options=SimpleNamespace(data=tmp_path / "faces"),
        workload=SimpleNamespace(checkpoint=tmp_path),
        device="cpu",
        size=lambda full, quick: quick,
    )
    rows = {row.key: row for row in training.measure(bench)}
    run = RATES[f"long run in {precision}"]
    assert rows["8a"].ratio == pytest.approx(run / RATES["shipped config as trained"])
    assert f"long run as make train runs it ({precision})" in rows["8a"].figures
    assert rows["8b"].ratio == pytest.approx(RATES["long run in bf16"] / RATES["long run in fp32"])
    assert rows["8c"].ratio == pytest.approx(run / RATES["long run on threads of one process"])
    threads = next(setting for setting in timed if setting.name == "long run on threads of one process")
    assert threads.precision == precision
    assert len(timed) == 4  # make train's setting is one of the two precisions, timed once
