"""An unwritable or full output location fails before training starts; a disk filling up mid-run fails at the
write with a clear message and leaves the earlier checkpoints intact (and resumable)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest

from hyperadalora.cli import main
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


def _cli(argv: list[str]) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.startswith("error: ")]


def _unwritable_dir(tmp_path: Path) -> Path:
    """A directory this process cannot create files in: mode 0o555, or (as root, who ignores modes) /sys."""
    d = tmp_path / "readonly"
    d.mkdir()
    d.chmod(0o555)
    try:
        (d / "probe").touch()
    except PermissionError:
        return d
    (d / "probe").unlink()
    return Path("/sys")


def test_unwritable_output_fails_up_front(assets, tmp_path: Path) -> None:
    parent = _unwritable_dir(tmp_path)
    out = parent / "hyperadalora-run"
    code, errors = _cli(train_args(assets, out))
    assert code == 2
    assert errors == [f"error: out: {parent} is not writable (Permission denied); choose another --out"]
    assert not out.exists()


def test_output_path_is_a_file(assets, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.write_text("not a directory")
    code, errors = _cli(train_args(assets, out))
    assert code == 2 and errors == [f"error: out: {out} exists and is not a directory"]
    assert out.read_text() == "not a directory"


def test_full_disk_fails_up_front(assets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(p)._replace(free=4096))
    out = tmp_path / "run"
    code, errors = _cli(train_args(assets, out))
    assert code == 2 and len(errors) == 1
    assert errors[0].startswith(f"error: out: {tmp_path} has 0.0 MiB free, the run needs about ")
    assert not out.exists()


@pytest.mark.slow
def test_disk_full_during_a_checkpoint(assets, reference, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = train_args(assets, out, "--save-every", "3")
    result = run_injected(args, "enospc_at=6")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: [Errno 28] No space left on device: "), result.stderr
    assert "step-000006" in errors[0]
    root = out / "checkpoints"
    assert [s for s, _ in ckpt.listed(root)] == [3]
    ckpt.verify(root / "step-000003", CKPT_FILES)
    assert not [p for p in os.listdir(root) if p.startswith(".tmp-")]  # the torn write was cleaned up
    resumed = run_cli([*args, "--resume"])  # space freed: the run continues from step 3
    assert resumed.returncode == 0, resumed.stderr
    assert_bitwise_equal(adapter_tensors(reference), adapter_tensors(out))
    assert train_records(out) == train_records(reference)
