"""Damaged checkpoints are detected with a message naming the file; --resume falls back to the newest intact one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hyperadalora.train import checkpoint as ckpt
from hyperadalora.train.loop import CKPT_FILES

from .reliability_harness import adapter_tensors, assert_bitwise_equal, run_cli, train_args, train_records

pytestmark = pytest.mark.slow  # every test needs the subprocess-trained `stopped` run


@pytest.fixture(scope="module")
def stopped(assets, tmp_path_factory) -> Path:
    """A run stopped after step 9 with checkpoints 3, 6 and 9 kept."""
    out = tmp_path_factory.mktemp("stopped") / "run"
    result = run_cli(train_args(assets, out, "--save-every", "3", "--keep-checkpoints", "3", "--stop-after", "9"))
    assert result.returncode == 0, result.stderr
    assert [s for s, _ in ckpt.listed(out / "checkpoints")] == [9, 6, 3]
    return out


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated adapter": ("adapter.safetensors", _truncate, r"adapter\.safetensors: \d+ bytes, the manifest says \d+ \(truncated\?\)"),
    "flipped byte in optimizer": ("optimizer.pt", _flip_byte, r"optimizer\.pt: corrupt \(sha256 does not match the manifest\)"),
    "missing rng file": ("rng.safetensors", Path.unlink, r"rng\.safetensors: missing$"),
    "missing manifest": ("manifest.json", Path.unlink, r"manifest\.json: missing \(the checkpoint was not completely written\)"),
    "garbage manifest": ("manifest.json", lambda p: p.write_text("{not json"), r"manifest\.json: unreadable or corrupt manifest"),
    "scheduler file dropped from the manifest": (
        "manifest.json",
        lambda p: p.write_text(p.read_text().replace('"scheduler.pt"', '"scheduler.bak"')),
        r"scheduler\.pt: not listed in the manifest \(incomplete checkpoint\)",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damage_is_detected_naming_the_file(stopped: Path, tmp_path: Path, case: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(stopped, run)
    name, damage, message = DAMAGE[case]
    step9 = run / "checkpoints" / "step-000009"
    damage(step9 / name)
    with pytest.raises(ckpt.CheckpointError, match=message) as err:
        ckpt.verify(step9, CKPT_FILES)
    assert str(step9) in str(err.value)
    path, skipped = ckpt.newest_intact(run / "checkpoints", CKPT_FILES)
    assert path == run / "checkpoints" / "step-000006"
    assert len(skipped) == 1 and skipped[0].startswith("skipped checkpoint step-000009: ")


def test_resume_falls_back_to_newest_intact(stopped: Path, reference: Path, assets, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(stopped, run)
    _truncate(run / "checkpoints" / "step-000009" / "adapter.safetensors")
    result = run_cli(train_args(assets, run, "--save-every", "3", "--resume"))
    assert result.returncode == 0, result.stderr
    assert "warning: skipped checkpoint step-000009: " in result.stderr
    assert "adapter.safetensors: " in result.stderr and "(truncated?)" in result.stderr
    assert "resuming" in result.stderr and "from step-000006 (step 6 of 12)" in result.stderr
    assert_bitwise_equal(adapter_tensors(reference), adapter_tensors(run))
    assert train_records(run) == train_records(reference)


def test_no_intact_checkpoint_restarts_loudly(stopped: Path, reference: Path, assets, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(stopped, run)
    for _, path in ckpt.listed(run / "checkpoints"):
        _flip_byte(path / "adapter.safetensors")
    result = run_cli(train_args(assets, run, "--save-every", "3", "--resume"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("warning: skipped checkpoint") == 3
    assert "warning: no intact checkpoint" in result.stderr and "from step 0" in result.stderr
    assert_bitwise_equal(adapter_tensors(reference), adapter_tensors(run))  # retrained from scratch, same result
    assert train_records(run) == train_records(reference)
