"""Helpers of the reliability suite: a tiny BERT + tokenizer saved to disk, RTE-format data, the CLI run as a
real subprocess (plain or through inject.py), and content hashes of directories and adapter tensors."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORDS = ("a the man woman dog cat child runs sleeps eats sits walks is not big small red blue old young "
         "house park car tree ball").split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) + " ."


def write_rte(root: Path, n_train: int = 64, n_dev: int = 16, seed: int = 0) -> Path:
    """A GLUE RTE-format directory of random sentences (labels: whether text_b repeats text_a's first word)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.tsv", n_train), ("dev.tsv", n_dev)):
        lines = ["index\tsentence1\tsentence2\tlabel"]
        for i in range(n):
            a, b = _sentence(rng), _sentence(rng)
            label = "entailment" if i % 2 == 0 else "not_entailment"
            if label == "entailment":
                b = a.split()[0] + " " + b
            lines.append(f"{i}\t{a}\t{b}\t{label}")
        (root / name).write_text("\n".join(lines) + "\n")
    return root


def write_tiny_bert(root: Path, hidden: int = 32, layers: int = 2, dropout: float = 0.1) -> Path:
    """A randomly initialised BertForSequenceClassification and a WordPiece tokenizer over WORDS, saved with
    save_pretrained (what `--model DIR` loads)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    root.mkdir(parents=True, exist_ok=True)
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(vocab))  # transformers 5: `vocab` takes the file path
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=4, intermediate_size=2 * hidden, max_position_embeddings=64,
                        num_labels=2, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    BertForSequenceClassification(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


def train_args(assets: dict[str, Path], out: Path, *extra: str, steps: int = 12) -> list[str]:
    """`hyperadalora train` arguments of the suite's standard tiny run."""
    return ["train", "--task", "rte", "--data", str(assets["data"]), "--model", str(assets["model"]),
            "--method", "hyperadalora", "--out", str(out), "--max-steps", str(steps), "--batch-size", "8",
            "--max-length", "32", "--lr", "5e-3", "--init-r", "3", "--target-r", "2", "--tinit", "2",
            "--tfinal", "2", "--hypernet-hidden", "16", "--hypernet-ffn", "32", "--eval-batch-size", "16",
            "--log-every", "1", "--no-progress", *extra]


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONUNBUFFERED": "1", **extra}
    env.pop("ACCELERATE_USE_CPU", None)
    return env


def run_cli(args: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """`python -m hyperadalora ARGS` in a fresh process, from the repository root."""
    return subprocess.run([sys.executable, "-m", "hyperadalora", *args], cwd=REPO, env=cli_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def tree_hash(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `root` (directories as entries too): any change shows."""
    if not root.exists():
        return {}
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
    return out


def adapter_tensors(run: Path) -> dict:
    """The final adapter state of a finished run (every tensor the loop saved)."""
    from safetensors.torch import load_file

    return load_file(str(run / "adapter" / "adapter.safetensors"))


def assert_bitwise_equal(a: dict, b: dict) -> None:
    import torch

    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert torch.equal(a[k], b[k]), f"{k}: max |diff| {(a[k].float() - b[k].float()).abs().max().item()}"


INJECT = Path(__file__).resolve().parent / "inject.py"


def run_injected(args: list[str], faults: str = "", timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """The CLI through inject.py with `HYPERADALORA_FAULTS=faults` (see inject.py for the fault names)."""
    return subprocess.run([sys.executable, str(INJECT), *args], cwd=REPO,
                          env=cli_env(HYPERADALORA_FAULTS=faults, **env), capture_output=True, text=True,
                          timeout=timeout)


def start_injected(args: list[str], faults: str = "") -> subprocess.Popen:
    """`run_injected` without waiting: the running process (stderr piped, for the message of a failure)."""
    return subprocess.Popen([sys.executable, str(INJECT), *args], cwd=REPO, env=cli_env(HYPERADALORA_FAULTS=faults),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_until(proc: subprocess.Popen, ready, timeout: float = 90) -> None:
    """Poll `ready()` until true; fail if `proc` ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) too early: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.005)


def logged_steps(out: Path) -> int:
    """The highest step in the run's log so far (0 before the first line)."""
    try:
        lines = (out / "log.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    steps = []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):  # a line still being written
            steps.append(json.loads(line)["step"])
    return max(steps, default=0)


def train_records(run: Path) -> list[dict]:
    """The run's per-step train log records without wall time (identical between equal runs)."""
    lines = (run / "log.jsonl").read_text().splitlines()
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in map(json.loads, lines) if r["kind"] == "train"]
