"""Two processes (torchrun, gloo on CPU) running `hyperadalora train`: identical committed adapter state and masks
on every rank after every step, only rank 0 writes, and the result matches one process with the same global batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .reliability_harness import (
    INJECT,
    REPO,
    adapter_tensors,
    cli_env,
    run_injected,
    train_args,
    train_records,
)

pytestmark = pytest.mark.slow

STEPS = 12


def _torchrun(args: list[str], faults: str, **env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(INJECT), *args]
    return subprocess.run(cmd, cwd=REPO, env=cli_env(HYPERADALORA_FAULTS=faults, **env), capture_output=True, text=True,
                          timeout=240)


def _hashes(path: Path) -> list[tuple[int, str]]:
    return [(r["step"], r["sha256"]) for r in map(json.loads, path.read_text().splitlines())]


def _check_ranks_agree(hash_dir: Path, out: Path) -> None:
    rank0, rank1 = _hashes(hash_dir / "rank0.jsonl"), _hashes(hash_dir / "rank1.jsonl")
    assert [s for s, _ in rank0] == list(range(1, STEPS + 1))
    assert rank0 == rank1  # the same adapter state (hypernetworks, committed P/Λ/Q, masks, head) at every step
    assert not (hash_dir / "writes-rank1.txt").exists(), (hash_dir / "writes-rank1.txt").read_text()
    assert [r["step"] for r in train_records(out)] == list(range(1, STEPS + 1))  # one log line per step
    assert json.loads((out / "summary.json").read_text())["num_processes"] == 2


FSDP2 = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2"}  # what `accelerate launch --use_fsdp --fsdp_version 2` sets


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_processes_match_one(assets, tmp_path: Path, mode: str) -> None:
    """DDP, and FSDP2 sharding the frozen base model's blocks (hypernetworks, state and head replicated)."""
    data = {"model": assets["model_no_dropout"], "data": assets["data"]}
    ddp_out, single_out = tmp_path / "ddp", tmp_path / "single"
    ddp = _torchrun(train_args(data, ddp_out, "--save-every", "4"), f"step_hashes={tmp_path / 'ddp-hashes'}",
                    **(FSDP2 if mode == "fsdp" else {}))
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert json.loads((ddp_out / "summary.json").read_text())["sharded_base_model"] == (mode == "fsdp")
    _check_ranks_agree(tmp_path / "ddp-hashes", ddp_out)
    single = run_injected(train_args(data, single_out, "--save-every", "4"), f"step_hashes={tmp_path / 'single-hashes'}")
    assert single.returncode == 0, single.stderr[-3000:]
    # Same global batch (8 = 2 x 4): the same examples per step, gradients averaged in another order.
    a, b = adapter_tensors(ddp_out), adapter_tensors(single_out)
    assert sorted(a) == sorted(b)
    for name in a:
        if a[name].dtype == torch.bool or "mask" in name:
            assert torch.equal(a[name], b[name]), name  # the same ranks pruned
        else:
            torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5, msg=name)
    for x, y in zip(train_records(ddp_out), train_records(single_out), strict=True):
        assert x["total_rank"] == y["total_rank"]
        assert x["task_loss"] == pytest.approx(y["task_loss"], rel=1e-4, abs=1e-6)
        assert x["orth_loss"] == pytest.approx(y["orth_loss"], rel=1e-4, abs=1e-6)
    assert sorted(p.name for p in (ddp_out / "checkpoints").iterdir()) == ["step-000008", "step-000012"]


def test_dropout_and_sensitivity_do_not_make_ranks_diverge(assets, tmp_path: Path) -> None:
    """Dropout in the base model and in the hypernetworks, sensitivity importance (scores from each rank's own
    gradients) and the loss trend of progress_features (each rank's own loss), with a 2-step hypergradient
    horizon: every rank still commits the same adapter state, statistics and masks after every step."""
    out = tmp_path / "ddp"
    args = train_args(assets, out, "--hypernet-dropout", "0.1", "--lora-dropout", "0.1", "--importance", "sensitivity",
                      "--progress-features", "--hypergradient-horizon", "2")
    result = _torchrun(args, f"step_hashes={tmp_path / 'hashes'}")
    assert result.returncode == 0, result.stderr[-3000:]
    _check_ranks_agree(tmp_path / "hashes", out)
