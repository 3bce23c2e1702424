"""Tiny assets for the training tests: a BERT classifier + WordPiece tokenizer saved to disk and RTE-format
TSVs whose label is learnable (whether sentence 2 starts with sentence 1's first word)."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = "a the man woman dog cat child runs sleeps eats sits walks is not big small red blue old young".split()


def write_rte(root: Path, n_train: int = 48, n_dev: int = 16, seed: int = 0) -> Path:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.tsv", n_train), ("dev.tsv", n_dev)):
        lines = ["index\tsentence1\tsentence2\tlabel"]
        for i in range(n):
            a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
            b = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
            label = "entailment" if i % 2 == 0 else "not_entailment"
            if label == "entailment":
                b = a.split()[0] + " " + b
            lines.append(f"{i}\t{a}\t{b}\t{label}")
        (root / name).write_text("\n".join(lines) + "\n")
    return root


def write_tiny_bert(root: Path, hidden: int = 32) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    root.mkdir(parents=True, exist_ok=True)
    (root / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(root / "vocab.txt"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=2 * hidden, max_position_embeddings=64, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root
