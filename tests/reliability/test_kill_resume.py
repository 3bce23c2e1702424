"""A run SIGKILLed at any moment and resumed with --resume ends bitwise identical to an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from hyperadalora.train import checkpoint as ckpt

from .reliability_harness import (
    adapter_tensors,
    assert_bitwise_equal,
    logged_steps,
    run_cli,
    run_injected,
    start_injected,
    train_args,
    train_records,
    wait_until,
)

pytestmark = pytest.mark.slow

def _torn_checkpoint_left(out: Path) -> bool:
    return any(p.name.startswith(".tmp-step-000006") for p in (out / "checkpoints").iterdir())


def _three_checkpoints(out: Path) -> bool:
    return [s for s, _ in ckpt.listed(out / "checkpoints")] == [9, 6, 3]


def _log_line_cut(out: Path) -> bool:
    return not (out / "log.jsonl").read_text().endswith("}\n")


def _no_summary(out: Path) -> bool:
    return not (out / "summary.json").exists()


# Each fault kills the process at one exact point, checked by what it leaves behind; the run is resumed after
# each and killed again by the next.
KILL_CHAIN = [
    ("kill_after_optimizer_step=5", lambda out: logged_steps(out) == 4),  # step 5 updated in memory only
    ("kill_in_checkpoint=6:optimizer.pt", _torn_checkpoint_left),  # adapter + optimizer written, no manifest
    ("kill_before_prune=9", _three_checkpoints),  # renamed into place, step 3 not yet pruned
    ("kill_in_log=11", _log_line_cut),  # half of step 11's log line on disk
    ("kill_in_adapter_save=1", _no_summary),  # final checkpoint written, adapter/ half written
]


def test_injected_kills_then_resume_is_bitwise_identical(assets, reference, tmp_path: Path) -> None:
    out = tmp_path / "run"
    for i, (fault, left_behind) in enumerate(KILL_CHAIN):
        resume = ("--resume",) if i else ()
        result = run_injected(train_args(assets, out, "--save-every", "3", *resume), fault)
        assert result.returncode == -signal.SIGKILL, f"{fault}: {result.stderr[-2000:]}"
        assert left_behind(out), fault
    final = run_cli(train_args(assets, out, "--save-every", "3", "--resume"))
    assert final.returncode == 0, final.stderr
    assert "from step-000012" in final.stderr
    assert_bitwise_equal(adapter_tensors(reference), adapter_tensors(out))
    assert train_records(out) == train_records(reference)  # every step's losses, lr and rank, once each
    summary, expected = (json.loads((d / "summary.json").read_text()) for d in (out, reference))
    assert summary["final_metrics"] == expected["final_metrics"]
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith((".tmp-", ".old-"))]
    assert len(ckpt.listed(out / "checkpoints")) == 2  # keep_checkpoints (default 2) bounds what is kept


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 90) -> None:
    wait_until(proc, ready, timeout)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stderr.close()


def test_external_sigkill_mid_step_and_mid_checkpoint(assets, reference, tmp_path: Path) -> None:
    """Killed from outside, as a scheduler or OOM killer would: once while training (steps slowed to 0.2 s so the
    signal lands inside one), once while a checkpoint directory is being written (seen as its temporary name)."""
    out = tmp_path / "run"
    args = train_args(assets, out, "--save-every", "3")
    proc = start_injected(args, "slow_step=0.2")
    _kill_when(proc, lambda: logged_steps(out) >= 4)

    def checkpoint_being_written() -> bool:
        root = out / "checkpoints"
        return root.is_dir() and any(p.name.startswith(".tmp-step-000009") for p in root.iterdir())

    proc = start_injected([*args, "--resume"], "slow_checkpoint=0.3")
    _kill_when(proc, checkpoint_being_written)
    assert checkpoint_being_written()  # the half-written checkpoint is left behind by the kill
    final = run_cli([*args, "--resume"])
    assert final.returncode == 0, final.stderr
    assert "from step-000006" in final.stderr  # the torn step-9 directory is not a checkpoint
    assert_bitwise_equal(adapter_tensors(reference), adapter_tensors(out))
    assert train_records(out) == train_records(reference)
