"""A NaN/inf loss stops the run naming the step and the loss terms, the last good checkpoint intact;
--skip-nonfinite N skips up to N such steps instead, each logged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperadalora.train import checkpoint as ckpt
from hyperadalora.train.loop import CKPT_FILES

from .reliability_harness import (
    adapter_tensors,
    assert_bitwise_equal,
    run_cli,
    run_injected,
    train_args,
    train_records,
)

pytestmark = pytest.mark.slow


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_absurd_learning_rate_stops_with_step_and_loss_terms(assets, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = train_args(assets, out, "--save-every", "1")
    args[args.index("--lr") + 1] = "1e30"
    result = run_cli(args)
    assert result.returncode == 2
    assert _error_line(result.stderr) == (
        "error: step 2: loss is not finite (task_loss=nan, orth_loss=nan); stopped, the last good checkpoint is "
        "kept; lower --lr or pass --skip-nonfinite N to skip such steps"
    )
    assert [s for s, _ in ckpt.listed(out / "checkpoints")] == [1]
    ckpt.verify(out / "checkpoints" / "step-000001", CKPT_FILES)
    assert not (out / "adapter").exists() and not (out / "summary.json").exists()


def test_injected_nan_keeps_a_good_checkpoint_that_resumes_exactly(assets, reference, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_injected(train_args(assets, out, "--save-every", "1"), "nan_at=4")
    assert result.returncode == 2
    line = _error_line(result.stderr)
    assert line.startswith("error: step 4: loss is not finite (task_loss=nan, orth_loss=")
    assert [s for s, _ in ckpt.listed(out / "checkpoints")] == [3, 2]  # keep_checkpoints=2; step 4 never saved
    ckpt.verify(out / "checkpoints" / "step-000003", CKPT_FILES)
    assert [r["step"] for r in train_records(out)] == [1, 2, 3]
    # The kept checkpoint is good: resuming without the fault reproduces the uninterrupted run bit for bit.
    resumed = run_cli(train_args(assets, out, "--save-every", "1", "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert_bitwise_equal(adapter_tensors(reference), adapter_tensors(out))
    assert train_records(out) == train_records(reference)


def test_skip_nonfinite_skips_and_logs(assets, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_injected(train_args(assets, out, "--skip-nonfinite", "2"), "nan_at=4,5")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    skips = [r for r in records if r["kind"] == "skip"]
    assert [(r["step"], r["skipped"]) for r in skips] == [(4, 1), (4, 2)]
    assert all(r["task_loss"] != r["task_loss"] for r in skips)  # NaN logged as NaN
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 13))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_steps"] == 2 and summary["steps"] == 12
    for name, tensor in adapter_tensors(out).items():
        assert tensor.float().isfinite().all(), name


def test_more_nonfinite_steps_than_allowed_stops(assets, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_injected(train_args(assets, out, "--skip-nonfinite", "1", "--save-every", "2"), "nan_at=4,5")
    assert result.returncode == 2
    assert _error_line(result.stderr).endswith("more than --skip-nonfinite 1 such steps")
    assert "error: step 4: loss is not finite" in result.stderr
    ckpt.verify(out / "checkpoints" / "step-000002", CKPT_FILES)
