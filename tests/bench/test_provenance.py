"""Provenance: `bench` and `compare` describe the code by one rule (the checkout holding the package)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hyperadalora.bench.provenance import git_commit, git_state
from hyperadalora.train.sources import repo_root


@pytest.mark.skipif(shutil.which("git") is None or repo_root() is None, reason="needs git and a source checkout")
def test_bench_and_compare_report_the_same_commit_and_dirty_state():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True).stdout.strip()
    if not head:
        pytest.skip("the source tree is not a git checkout (an exported archive)")
    commit, dirty = git_state()
    assert commit == head and isinstance(dirty, bool)
    assert git_commit() == head + ("+dirty" if dirty else "")
