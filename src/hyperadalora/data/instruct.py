"""Instruction data for causal-LM fine-tuning: Alpaca, Open-Platypus and Magpie formats.

Every loader returns ``{"instruction", "input", "output"}`` string dicts. Prompts use the Stanford
Alpaca template; :func:`tokenize_for_causal_lm` masks the prompt out of the loss (label -100) and
appends EOS to the response.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hyperadalora.errors import UserInputError

from .glue import decode_utf8

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
FORMATS = ("alpaca", "platypus", "magpie")
# Stanford Alpaca's template (tatsu-lab/stanford_alpaca, train.py PROMPT_DICT), verbatim.
PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:"
)
# Hub data sets whose format is known from the name alone.
_HUB_FORMATS = {
    "tatsu-lab/alpaca": "alpaca",
    "garage-baind/open-platypus": "platypus",
    "magpie-align/magpie-pro-300k-filtered": "magpie",
}
_HUB_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")


def _read_records(path: Path) -> list[tuple[str, Any]]:
    """(location, record) pairs of a JSON array file or a JSONL file; location reads "record i" / "line n"."""
    text = decode_utf8(path, path.read_bytes())
    if not text.strip():
        raise UserInputError(f"{path}: file is empty; expected a JSON list of instruction records or JSONL")
    if path.suffix.lower() != ".jsonl":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            # A .json file holding one object per line is JSONL in all but name: read it as such.
            if not text.lstrip().startswith("{"):
                raise UserInputError(
                    f"{path}: line {err.lineno}: invalid JSON ({err.msg}, column {err.colno})"
                ) from None
        else:
            if not isinstance(data, list):
                raise UserInputError(
                    f"{path}: the top level is a JSON {type(data).__name__}; expected a list of instruction "
                    f"records (or one record per line, JSONL)"
                )
            return [(f"record {i}", r) for i, r in enumerate(data)]
    records = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as err:
                raise UserInputError(f"{path}: line {n}: invalid JSON ({err.msg}) in a JSONL file") from None
    return records


def _infer_format(record: Any) -> str:
    if isinstance(record, dict) and "conversations" in record:
        return "magpie"
    if isinstance(record, dict) and "data_source" in record:
        return "platypus"
    return "alpaca"


def _convert(record: Any, fmt: str, where: str) -> dict[str, str]:
    """One record in ``fmt`` as an instruction/input/output dict; ``where`` prefixes errors."""
    if not isinstance(record, dict):
        raise UserInputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if fmt == "magpie":
        turns = record.get("conversations")
        if not isinstance(turns, list):
            raise UserInputError(
                f"{where}: missing field 'conversations' (a list of {{'from', 'value'}} turns)"
            )
        human = next(
            (i for i, t in enumerate(turns) if isinstance(t, dict) and t.get("from") == "human"), None
        )
        gpt = (
            None
            if human is None
            else next((t for t in turns[human + 1 :] if isinstance(t, dict) and t.get("from") == "gpt"), None)
        )
        if gpt is None:
            raise UserInputError(f"{where}: 'conversations' has no 'human' turn followed by a 'gpt' turn")
        record = {"instruction": turns[human].get("value"), "input": "", "output": gpt.get("value")}
    for field in ("instruction", "output"):
        if field not in record or record[field] is None:
            raise UserInputError(
                f"{where}: missing field {field!r} ({fmt} records need 'instruction' and 'output'; "
                f"'input' is optional)"
            )
    out = {
        "instruction": record["instruction"],
        "input": record.get("input") or "",
        "output": record["output"],
    }
    for field, value in out.items():
        if not isinstance(value, str):
            raise UserInputError(f"{where}: field {field!r} must be a string, got {type(value).__name__}")
    return out


def _check_format(fmt: str | None) -> None:
    if fmt is not None and fmt not in FORMATS:
        raise UserInputError(f"unknown instruction format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def load_instructions(source: str | Path, fmt: str | None = None) -> list[dict[str, str]]:
    """Load instruction data as ``{"instruction", "input", "output"}`` dicts.

    ``source`` is a local JSON (a list of records) or JSONL file, or a Hub data set name such as
    ``garage-bAInd/Open-Platypus`` (loaded with ``datasets``, imported only then). ``fmt`` is
    "alpaca" (instruction/input/output), "platypus" (the same plus data_source) or "magpie"
    (a ``conversations`` list of ``{"from": "human"|"gpt", "value"}`` turns: the first human turn is
    the instruction, the next gpt turn the output); None infers it from the first record.
    Raises :class:`UserInputError` naming the file and record for malformed data.
    """
    _check_format(fmt)
    path = Path(source)
    if path.is_file():
        located = _read_records(path)
        if not located:
            raise UserInputError(f"{path}: no records (empty list); expected instruction records")
        fmt = fmt or _infer_format(located[0][1])
        return [_convert(r, fmt, f"{path}: {where}") for where, r in located]
    if path.exists() or not _HUB_NAME.match(str(source)) or path.suffix.lower() in (".json", ".jsonl"):
        raise UserInputError(
            f"{source}: instruction file not found; pass a JSON/JSONL file or a Hub data set name (owner/name)"
        )
    return _load_hub(str(source), fmt)


def _load_hub(name: str, fmt: str | None) -> list[dict[str, str]]:
    import datasets  # heavy: only for users loading from the Hub

    ds = datasets.load_dataset(name, split="train")
    fmt = fmt or _HUB_FORMATS.get(name.lower()) or (_infer_format(ds[0]) if len(ds) else "alpaca")
    examples = [_convert(r, fmt, f"{name} (Hub): record {i}") for i, r in enumerate(ds)]
    if not examples:
        raise UserInputError(f"{name} (Hub): no records in the train split")
    return examples


def format_prompt(example: dict[str, str]) -> str:
    """The Stanford Alpaca prompt of ``example`` (the input section only when ``input`` is non-empty)."""
    template = PROMPT_WITH_INPUT if example.get("input", "") != "" else PROMPT_NO_INPUT
    return template.format(instruction=example["instruction"], input=example.get("input", ""))


def tokenize_for_causal_lm(examples: Iterable[dict[str, str]], tokenizer: Any, max_length: int) -> list[dict]:
    """Token ids for supervised fine-tuning with the loss on the response only.

    Each item is ``prompt ids + response ids + [EOS]``: the prompt is encoded with the tokenizer's
    own special tokens (e.g. LLaMA's BOS), the response without, each separately so the boundary
    between them is exact. ``labels`` are -100 on the prompt. Sequences longer than ``max_length``
    are cut at the end (the prompt start is kept); an example whose prompt alone fills
    ``max_length`` has nothing to learn from and is dropped with a warning.
    Returns ``{"input_ids", "attention_mask", "labels"}`` dicts of int lists (pad with
    :func:`hyperadalora.data.collate.causal_lm_collator`).
    """
    if max_length < 2:
        raise UserInputError(f"max_length must be at least 2 tokens, got {max_length}")
    if tokenizer.eos_token_id is None:
        raise UserInputError("the tokenizer has no eos_token; set tokenizer.eos_token so responses can end")
    out, dropped = [], 0
    for ex in examples:
        prompt = tokenizer(format_prompt(ex), add_special_tokens=True)["input_ids"]
        response = tokenizer(ex["output"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        if len(prompt) >= max_length:
            dropped += 1
            continue
        ids = (prompt + response)[:max_length]
        labels = ([IGNORE_INDEX] * len(prompt) + response)[:max_length]
        out.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    if dropped:
        logger.warning(
            "dropped %d example(s) whose prompt alone is >= max_length=%d tokens", dropped, max_length
        )
    if not out:
        raise UserInputError(
            f"max_length={max_length} leaves no response tokens in any example; raise max_length"
        )
    return out


def split_heldout(examples: Sequence[Any], n_heldout: int, seed: int) -> tuple[list, list]:
    """Split into ``(train, heldout)``: ``n_heldout`` examples drawn with ``seed``; both keep file order."""
    if not 0 <= n_heldout < len(examples):
        raise UserInputError(
            f"n_heldout={n_heldout} must be between 0 and {len(examples) - 1} (the data has {len(examples)} examples)"
        )
    held = set(random.Random(seed).sample(range(len(examples)), n_heldout))
    train = [e for i, e in enumerate(examples) if i not in held]
    heldout = [e for i, e in enumerate(examples) if i in held]
    return train, heldout
