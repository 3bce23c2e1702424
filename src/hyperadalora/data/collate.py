"""Collators with dynamic padding (to the longest sequence of each batch), built on transformers'."""

from __future__ import annotations

from typing import Any

from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding

from hyperadalora.data.instruct import IGNORE_INDEX


def classification_collator(tokenizer: Any, pad_to_multiple_of: int | None = None) -> DataCollatorWithPadding:
    """Pad :func:`~hyperadalora.data.glue.tokenize_glue` items to the batch's longest; ``labels`` become a tensor."""
    return DataCollatorWithPadding(
        tokenizer, padding="longest", pad_to_multiple_of=pad_to_multiple_of, return_tensors="pt"
    )


def causal_lm_collator(tokenizer: Any, pad_to_multiple_of: int | None = None) -> DataCollatorForSeq2Seq:
    """Pad :func:`~hyperadalora.data.instruct.tokenize_for_causal_lm` items; ``labels`` are padded with -100.

    A tokenizer without a pad token (LLaMA's) gets its EOS as pad token: padded positions have
    attention mask 0 and label -100, so the id placed there never reaches the loss.
    """
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return DataCollatorForSeq2Seq(
        tokenizer,
        padding="longest",
        label_pad_token_id=IGNORE_INDEX,
        pad_to_multiple_of=pad_to_multiple_of,
        return_tensors="pt",
    )
