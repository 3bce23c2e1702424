"""GLUE tasks as sequence classification, from a local GLUE directory (release TSVs) or the Hub.

Local files are read the way the GLUE release needs: tab-separated with quoting off (the text holds
quote characters that are not CSV quoting), an optional UTF-8 byte-order mark (MRPC), and no header
for CoLA's train/dev. Every problem in a file is a :class:`UserInputError` naming the file and line.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperadalora.errors import UserInputError
from hyperadalora.metrics import accuracy, f1, matthews_corrcoef


@dataclass(frozen=True)
class GlueTask:
    """How one GLUE task is laid out on disk and on the Hub.

    ``label_values`` are the strings found in the TSV label column, in the order of the integer
    labels of the Hub copy (``nyu-mll/glue``), so local and Hub data share one label convention.
    ``columns`` is set only for header-less files (CoLA): the names given to its positional fields.
    """

    name: str
    hub_config: str
    label_names: tuple[str, ...]
    label_values: tuple[str, ...]
    text_columns: tuple[str, ...]
    label_column: str
    hub_text_columns: tuple[str, ...]
    metric_names: tuple[str, ...] = ("accuracy",)
    train_file: str = "train.tsv"
    dev_file: str = "dev.tsv"
    hub_dev_split: str = "validation"
    columns: tuple[str, ...] | None = None

    @property
    def num_labels(self) -> int:
        """Number of classes."""
        return len(self.label_names)

    def file_for(self, split: str) -> str:
        """File name of ``split`` ("train" or "dev") inside the task directory."""
        return self.train_file if split == "train" else self.dev_file


_NLI2 = ("entailment", "not_entailment")
GLUE_TASKS: dict[str, GlueTask] = {
    t.name: t
    for t in (
        GlueTask("rte", "rte", _NLI2, _NLI2, ("sentence1", "sentence2"), "label", ("sentence1", "sentence2")),
        GlueTask(
            "wnli",
            "wnli",
            ("not_entailment", "entailment"),
            ("0", "1"),
            ("sentence1", "sentence2"),
            "label",
            ("sentence1", "sentence2"),
        ),
        GlueTask("qnli", "qnli", _NLI2, _NLI2, ("question", "sentence"), "label", ("question", "sentence")),
        GlueTask(
            "mnli",
            "mnli",
            ("entailment", "neutral", "contradiction"),
            ("entailment", "neutral", "contradiction"),
            ("sentence1", "sentence2"),
            "gold_label",
            ("premise", "hypothesis"),
            dev_file="dev_matched.tsv",
            hub_dev_split="validation_matched",
        ),
        GlueTask("sst2", "sst2", ("negative", "positive"), ("0", "1"), ("sentence",), "label", ("sentence",)),
        GlueTask(
            "cola",
            "cola",
            ("unacceptable", "acceptable"),
            ("0", "1"),
            ("sentence",),
            "label",
            ("sentence",),
            metric_names=("accuracy", "mcc"),
            columns=("source", "label", "original_label", "sentence"),
        ),
        GlueTask(
            "mrpc",
            "mrpc",
            ("not_equivalent", "equivalent"),
            ("0", "1"),
            ("#1 String", "#2 String"),
            "Quality",
            ("sentence1", "sentence2"),
            metric_names=("accuracy", "f1"),
        ),
        GlueTask(
            "qqp",
            "qqp",
            ("not_duplicate", "duplicate"),
            ("0", "1"),
            ("question1", "question2"),
            "is_duplicate",
            ("question1", "question2"),
            metric_names=("accuracy", "f1"),
        ),
    )
}
# Directory names of the GLUE release, accepted as task names too.
_ALIASES = {"sst-2": "sst2", "mnli-m": "mnli", "mnli_matched": "mnli"}


def get_task(task: str) -> GlueTask:
    """Look a task up by name (case-insensitive; ``SST-2`` works too)."""
    key = _ALIASES.get(task.lower(), task.lower())
    if key not in GLUE_TASKS:
        raise UserInputError(f"unknown GLUE task {task!r}; choose one of: {', '.join(sorted(GLUE_TASKS))}")
    return GLUE_TASKS[key]


def decode_utf8(path: Path, raw: bytes) -> str:
    """`raw` (the bytes of `path`) decoded as UTF-8 with any BOM dropped; a bad byte is reported with its line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise UserInputError(
            f"{path}: line {line}: invalid UTF-8 byte {raw[err.start]:#04x}; re-encode the file as UTF-8"
        ) from None


def _decoded_lines(path: Path) -> list[str]:
    """The file's lines, decoded as UTF-8 (BOM dropped); bad bytes are reported with their line."""
    raw = path.read_bytes()
    if not raw.strip():
        raise UserInputError(f"{path}: file is empty; a GLUE split needs a header line and data rows")
    return decode_utf8(path, raw).splitlines()


def _rows(path: Path, lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every non-blank line, tab-separated with quoting off."""
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    for fields in reader:
        if fields:
            yield reader.line_num, fields


def _read_tsv(task: GlueTask, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row as a dict) of one GLUE TSV, checking header, delimiter and row widths."""
    rows = _rows(path, _decoded_lines(path))
    first = next(rows, None)
    if first is None:
        raise UserInputError(f"{path}: file is empty; a GLUE split needs a header line and data rows")
    first_line, first_fields = first
    if len(first_fields) == 1:  # every GLUE task has at least two columns
        sep = next((s for s in (",", ";", "|") if s in first_fields[0]), None)
        hint = f"it looks {'comma' if sep == ',' else repr(sep)}-separated; " if sep else ""
        raise UserInputError(
            f"{path}: line {first_line}: found a single field where tab-separated columns were expected; "
            f"{hint}GLUE files must be tab-separated (TSV)"
        )
    if task.columns:  # header-less file: the first line is data
        header = list(task.columns)
        data = itertools.chain([first], rows)
    else:
        header = [h.strip() for h in first_fields]
        data = rows
        missing = [c for c in (*task.text_columns, task.label_column) if c not in header]
        if missing:
            raise UserInputError(
                f"{path}: line {first_line}: missing column(s) {', '.join(repr(c) for c in missing)} for task "
                f"{task.name}; found columns: {', '.join(repr(c) for c in header)}"
            )
    width = len(header)
    for line, fields in data:
        if len(fields) != width:
            raise UserInputError(
                f"{path}: line {line}: expected {width} tab-separated fields, got {len(fields)}"
            )
        yield line, dict(zip(header, fields, strict=True))


def _task_dir(task: GlueTask, data_dir: str | Path) -> Path:
    root = Path(data_dir)
    expected = f"{task.train_file} and {task.dev_file}"
    if not root.is_dir():
        raise UserInputError(
            f"{root}: GLUE data directory not found; expected a directory holding {expected} for task "
            f"{task.name} (point --data at it, or leave it unset to load nyu-mll/glue from the Hub)"
        )
    missing = [f for f in (task.train_file, task.dev_file) if not (root / f).is_file()]
    if missing:
        found = sorted(p.name for p in root.iterdir())
        raise UserInputError(
            f"{root}: missing {', '.join(missing)} for task {task.name} (expected {expected}); "
            f"found: {', '.join(found) if found else 'nothing'}"
        )
    return root


def _load_local(task: GlueTask, path: Path) -> tuple[list[dict], dict[str, int]]:
    """Examples of one file, and the first line of each label value (for the unseen-label check)."""
    label_of = {v: i for i, v in enumerate(task.label_values)}
    examples: list[dict] = []
    first_line_of: dict[str, int] = {}
    for line, row in _read_tsv(task, path):
        value = row[task.label_column].strip()
        if value not in label_of:
            raise UserInputError(
                f"{path}: line {line}: label {value!r} is not one of {', '.join(task.label_values)} "
                f"(column {task.label_column!r}, task {task.name})"
            )
        first_line_of.setdefault(value, line)
        texts = [row[c] for c in task.text_columns]
        examples.append(
            {"text_a": texts[0], "text_b": texts[1] if len(texts) > 1 else None, "label": label_of[value]}
        )
    if not examples:
        raise UserInputError(f"{path}: no data rows (empty split); the file has only a header")
    return examples, first_line_of


def _load_hub(task: GlueTask, split: str) -> list[dict]:
    import datasets  # heavy: only for users loading from the Hub

    hub_split = "train" if split == "train" else task.hub_dev_split
    ds = datasets.load_dataset("nyu-mll/glue", task.hub_config, split=hub_split)
    a, b = task.hub_text_columns[0], task.hub_text_columns[1] if len(task.hub_text_columns) > 1 else None
    examples = [{"text_a": r[a], "text_b": r[b] if b else None, "label": int(r["label"])} for r in ds]
    bad = next((i for i, e in enumerate(examples) if not 0 <= e["label"] < task.num_labels), None)
    if bad is not None:
        raise UserInputError(
            f"nyu-mll/glue:{task.hub_config}/{hub_split}: row {bad}: label {examples[bad]['label']} is not in "
            f"0..{task.num_labels - 1} (unlabelled test split?)"
        )
    if not examples:
        raise UserInputError(f"nyu-mll/glue:{task.hub_config}/{hub_split}: empty split")
    return examples


def load_glue_split(task: str, split: str, data_dir: str | Path | None) -> list[dict]:
    """Load one split of a GLUE task as ``{"text_a": str, "text_b": str | None, "label": int}`` dicts.

    ``split`` is "train" or "dev" (MNLI's dev is dev_matched). With ``data_dir`` None the split comes
    from the Hub (``nyu-mll/glue``, needs ``datasets`` and a network). Labels follow the Hub's
    integer convention (e.g. RTE entailment=0, MNLI entailment=0/neutral=1/contradiction=2).
    Loading the local dev split also checks that every dev label occurs in train.
    Raises :class:`UserInputError` naming the file (and line) for any malformed input.
    """
    spec = get_task(task)
    if split not in ("train", "dev"):
        raise UserInputError(f"unknown GLUE split {split!r}; use 'train' or 'dev'")
    if data_dir is None:
        return _load_hub(spec, split)
    root = _task_dir(spec, data_dir)
    path = root / spec.file_for(split)
    examples, first_line_of = _load_local(spec, path)
    if split == "dev":
        _, train_labels = _load_local(spec, root / spec.train_file)
        unseen = sorted((v for v in first_line_of if v not in train_labels), key=first_line_of.get)
        if unseen:
            v = unseen[0]
            raise UserInputError(
                f"{path}: line {first_line_of[v]}: label {v!r} never occurs in {spec.train_file} "
                f"(train labels: {', '.join(sorted(train_labels))}); the model cannot learn it"
            )
    return examples


def glue_metrics(task: str, predictions: list[int], labels: list[int]) -> dict[str, float]:
    """GLUE's metrics for ``task``: accuracy, plus F1 (MRPC, QQP; positive class 1) or MCC (CoLA)."""
    spec = get_task(task)
    out = {"accuracy": accuracy(predictions, labels)}
    if "f1" in spec.metric_names:
        out["f1"] = f1(predictions, labels)
    if "mcc" in spec.metric_names:
        out["mcc"] = matthews_corrcoef(predictions, labels)
    return out


def tokenize_glue(examples: list[dict], tokenizer: Any, max_length: int) -> list[dict]:
    """Tokenize GLUE examples (sentence pairs where the task has two texts), truncated to ``max_length``.

    Returns one dict per example with the tokenizer's fields (``input_ids``, ``attention_mask``,
    ``token_type_ids`` where the model uses them) and ``labels``, unpadded: batch them with
    :func:`hyperadalora.data.collate.classification_collator`.
    """
    if max_length < 2:
        raise UserInputError(f"max_length must be at least 2 tokens, got {max_length}")
    text_a = [e["text_a"] for e in examples]
    text_b = [e["text_b"] for e in examples] if examples and examples[0]["text_b"] is not None else None
    enc = tokenizer(text_a, text_b, truncation=True, max_length=max_length)
    return [{**{k: v[i] for k, v in enc.items()}, "labels": e["label"]} for i, e in enumerate(examples)]
