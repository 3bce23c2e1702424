"""Checkpoint files: atomic save, manifest verification naming the bad file, fallback, pruning."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperadalora.train import checkpoint as ckpt


def _save(root: Path, step: int, keep: int = 3) -> Path:
    files = {"a.bin": lambda p: p.write_bytes(bytes(range(200)) * step), "state.json": lambda p: p.write_text("{}")}
    return ckpt.save(root, step, files, keep)


def test_save_writes_a_verified_manifest_and_keeps_the_newest(tmp_path):
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, keep=2)
    assert [p.name for _, p in ckpt.listed(tmp_path)] == ["step-000004", "step-000003"]
    manifest = ckpt.verify(tmp_path / "step-000004", required=("a.bin", "state.json"))
    assert manifest["step"] == 4 and set(manifest["files"]) == {"a.bin", "state.json"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: (d / "a.bin").write_bytes((d / "a.bin").read_bytes()[:-7]), r"a.bin: \d+ bytes, the manifest says \d+ \(truncated\?\)"),
    (lambda d: (d / "a.bin").write_bytes(b"x" + (d / "a.bin").read_bytes()[1:]), r"a.bin: corrupt \(sha256"),
    (lambda d: (d / "state.json").unlink(), r"state.json: missing"),
    (lambda d: (d / "manifest.json").unlink(), r"manifest.json: missing \(the checkpoint was not completely written\)"),
    (lambda d: (d / "manifest.json").write_text("{"), r"manifest.json: unreadable or corrupt manifest"),
])
def test_damage_is_detected_naming_the_file(tmp_path, damage, message):
    path = _save(tmp_path, 5)
    damage(path)
    with pytest.raises(ckpt.CheckpointError, match=message):
        ckpt.verify(path)


def test_required_file_absent_from_manifest(tmp_path):
    path = _save(tmp_path, 1)
    with pytest.raises(ckpt.CheckpointError, match=r"optimizer.pt: not listed in the manifest"):
        ckpt.verify(path, required=("optimizer.pt",))


def test_newest_intact_skips_damaged_ones_and_says_why(tmp_path):
    for step in (1, 2, 3):
        _save(tmp_path, step)
    (tmp_path / "step-000003" / "a.bin").write_bytes(b"")
    (tmp_path / ".tmp-step-000004-123").mkdir()  # a writer killed mid-checkpoint
    path, skipped = ckpt.newest_intact(tmp_path)
    assert path == tmp_path / "step-000002"
    assert len(skipped) == 1 and "step-000003" in skipped[0] and "a.bin" in skipped[0]
    ckpt.remove_stale(tmp_path)
    assert not (tmp_path / ".tmp-step-000004-123").exists()


def test_failed_write_leaves_earlier_checkpoints_and_no_temporary(tmp_path):
    _save(tmp_path, 1)

    def disk_full(p: Path) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        ckpt.save(tmp_path, 2, {"a.bin": disk_full}, keep=3)
    assert [p.name for p in tmp_path.iterdir()] == ["step-000001"]
    ckpt.verify(tmp_path / "step-000001")


def test_rng_state_round_trip_restores_every_stream():
    import random

    import numpy as np
    import torch

    tensors, scalars = ckpt.rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(7), random.random()  # move every stream on
    ckpt.set_rng_state(tensors, scalars)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and (first[1] == again[1]).all() and first[2] == again[2]
