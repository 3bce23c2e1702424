"""One writer per run folder: while a run trains, the same command with --resume is refused (exit 2, the
holder's pid named) and the first run's log and checkpoints stay its own; a SIGKILLed holder leaves no lock."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from .reliability_harness import (
    logged_steps,
    run_cli,
    run_injected,
    start_injected,
    train_args,
    train_records,
    wait_until,
)

pytestmark = pytest.mark.slow


def test_a_second_writer_is_refused_while_the_first_trains(assets, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = train_args(assets, out, "--save-every", "5", steps=20)
    first = start_injected(args, "slow_step=1.5")  # 30 s of training: the second starts and is refused meanwhile
    wait_until(first, lambda: logged_steps(out) >= 1)
    second = run_cli([*args, "--resume"])
    assert first.poll() is None, "the first run ended before the second was refused: the test proves nothing"
    assert second.returncode == 2, second.stderr[-2000:]
    message = second.stderr.strip().splitlines()[-1]
    assert message.startswith(f"error: out: {out} is being written by another process (pid {first.pid})"), message
    assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
    first.stderr.close()
    assert [r["step"] for r in train_records(out)] == list(range(1, 21))  # one train record per step


def test_the_lock_frees_when_its_holder_is_sigkilled(assets, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = train_args(assets, out, "--save-every", "3")
    killed = run_injected(args, "kill_after_optimizer_step=5")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert int((out / ".lock").read_text())  # the file (with the dead holder's pid) stays; its lock went with it
    resumed = run_cli([*args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [r["step"] for r in train_records(out)] == list(range(1, 13))
