"""The run folder's one writer: an flock on `.lock` refuses a second writer, naming the holder's pid."""

from __future__ import annotations

import os

import pytest

from hyperadalora.errors import UserInputError
from hyperadalora.train.run_dir import LOCK_FILE, writer_lock


def test_a_second_writer_is_refused_naming_the_holder_and_the_lock_frees_on_exit(tmp_path):
    out = tmp_path / "new" / "run"
    with writer_lock(out):
        assert (out / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(UserInputError, match=rf"^out: .*run is being written by another process \(pid {os.getpid()}\)"):
            with writer_lock(out):  # another open file description: flock refuses it as it would another process
                pass
    with writer_lock(out):  # released: the next writer takes it
        pass
