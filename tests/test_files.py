"""Crash-safe writes (hyperadalora.files): a file or directory is replaced whole, and a failed write leaves
the old one and no temporary file behind."""

from __future__ import annotations

import pytest

from hyperadalora.files import atomic_write, atomic_write_text, replace_dir


def test_atomic_write_text_replaces_whole_file(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "adapter_model.safetensors"
    target.write_bytes(b"old")

    def half_then_fail(path):
        path.write_bytes(b"ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_replace_dir_swaps_a_whole_directory(tmp_path):
    dest = tmp_path / "adapter"
    dest.mkdir()
    (dest / "stale.bin").write_bytes(b"x")
    new = tmp_path / ".adapter.tmp-1"
    (new / "sub").mkdir(parents=True)
    (new / "weights.bin").write_bytes(b"w")
    (new / "sub" / "config.json").write_text("{}")
    replace_dir(new, dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]  # nothing left aside
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["sub", "sub/config.json", "weights.bin"]
