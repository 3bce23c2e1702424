"""Instruction data: the three formats, bad files, the Alpaca template and the prompt-masked labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hyperadalora.data import (
    IGNORE_INDEX,
    format_prompt,
    load_instructions,
    split_heldout,
    tokenize_for_causal_lm,
)
from hyperadalora.data.collate import causal_lm_collator
from hyperadalora.errors import UserInputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ALPACA_1K = SHARED / "data" / "instruct" / "alpaca" / "alpaca_data_1k.json"
STORIES = SHARED / "models" / "stories260k"

PLATYPUS = [
    {
        "input": "",
        "output": "The answer is 4.",
        "instruction": "What is 2 + 2?",
        "data_source": "MATH/PRM-800K",
    },
    {"input": "x = 3", "output": "x squared is 9.", "instruction": "Square x.", "data_source": "scibench"},
]
MAGPIE = [
    {
        "uuid": "u1",
        "conversations": [{"from": "human", "value": "Name a colour."}, {"from": "gpt", "value": "Blue."}],
        "instruction": "Name a colour.",
        "response": "Blue.",
    },
    {
        "uuid": "u2",
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Hi?"},
            {"from": "gpt", "value": "Hello."},
        ],
    },
]


def test_real_alpaca_1k() -> None:
    rows = load_instructions(str(ALPACA_1K))
    assert len(rows) == 1000
    assert sum(r["input"] != "" for r in rows) == 392  # as shared/data/README.md states
    assert set(rows[0]) == {"instruction", "input", "output"}
    assert rows[1]["output"] == "A speech was delivered by the president yesterday."


def test_platypus_json_and_jsonl(tmp_path: Path) -> None:
    as_json = tmp_path / "platypus.json"
    as_json.write_text(json.dumps(PLATYPUS))
    as_jsonl = tmp_path / "platypus.jsonl"
    as_jsonl.write_text("\n".join(json.dumps(r) for r in PLATYPUS) + "\n")
    expected = [
        {"instruction": "What is 2 + 2?", "input": "", "output": "The answer is 4."},
        {"instruction": "Square x.", "input": "x = 3", "output": "x squared is 9."},
    ]
    assert load_instructions(as_json) == expected
    assert load_instructions(str(as_jsonl), fmt="platypus") == expected


def test_magpie_conversations(tmp_path: Path) -> None:
    path = tmp_path / "magpie.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in MAGPIE))
    assert load_instructions(path) == [
        {"instruction": "Name a colour.", "input": "", "output": "Blue."},
        {"instruction": "Hi?", "input": "", "output": "Hello."},
    ]


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        (
            '[{"instruction": "a", "output": "b"}, {"instruction": "c", "input": ""}]',
            None,
            r"bad\.json: record 1: missing field 'output' \(alpaca records need 'instruction' and 'output'",
        ),
        ('[{"input": "x", "output": "b"}]', None, r"bad\.json: record 0: missing field 'instruction'"),
        (
            '[{"instruction": "a", "output": 3}]',
            None,
            r"bad\.json: record 0: field 'output' must be a string, got int",
        ),
        ('[{"instruction": "a",\n "output": "b",}]', None, r"bad\.json: line 2: invalid JSON"),
        ("[]", None, r"bad\.json: no records"),
        ("  \n", None, r"bad\.json: file is empty"),
        ('{"data": []}', None, r"bad\.json: the top level is a JSON dict; expected a list"),
        ('["just a string"]', None, r"bad\.json: record 0: expected a JSON object, got str"),
        (
            '[{"conversations": [{"from": "human", "value": "q"}]}]',
            None,
            r"bad\.json: record 0: 'conversations' has no 'human' turn followed by a 'gpt' turn",
        ),
        (
            '[{"instruction": "a", "output": "b"}]',
            "magpie",
            r"bad\.json: record 0: missing field 'conversations'",
        ),
        ('[{"instruction": "a", "output": "b"}]', "sharegpt", r"unknown instruction format 'sharegpt'"),
    ],
)
def test_bad_json_files(tmp_path: Path, content: str, fmt: str | None, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UserInputError, match=message):
        load_instructions(path, fmt)


def test_bad_jsonl_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n\n{"instruction": "c"}\n')
    with pytest.raises(UserInputError, match=r"bad\.jsonl: line 3: missing field 'output'"):
        load_instructions(path)
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": \n')
    with pytest.raises(UserInputError, match=r"bad\.jsonl: line 2: invalid JSON"):
        load_instructions(path)
    path.write_bytes(b'{"instruction": "a", "output": "b"}\n{"instruction": "caf\xe9", "output": "b"}\n')
    with pytest.raises(UserInputError, match=r"bad\.jsonl: line 2: invalid UTF-8 byte 0xe9"):
        load_instructions(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"nope\.json: instruction file not found"):
        load_instructions(tmp_path / "nope.json")
    with pytest.raises(UserInputError, match="instruction file not found"):
        load_instructions(str(tmp_path))  # a directory


def test_hub_name_goes_to_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return MAGPIE

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    rows = load_instructions("Magpie-Align/Magpie-Pro-300K-Filtered")
    assert calls == [("Magpie-Align/Magpie-Pro-300K-Filtered", "train")]
    assert rows[1] == {"instruction": "Hi?", "input": "", "output": "Hello."}


def test_alpaca_template_with_and_without_input() -> None:
    assert format_prompt({"instruction": "Add.", "input": "1 and 2", "output": "3"}) == (
        "Below is an instruction that describes a task, paired with an input that provides further context. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nAdd.\n\n### Input:\n1 and 2\n\n### Response:"
    )
    assert format_prompt({"instruction": "Say hi.", "input": "", "output": "hi"}) == (
        "Below is an instruction that describes a task. "
        "Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nSay hi.\n\n### Response:"
    )


def _stories_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(STORIES)


def _tiny_bpe_tokenizer():
    """A byte-level BPE (GPT-2 style: no BOS, EOS only as a special token) trained on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["Once upon a time there was a cat.", "### Instruction: ### Response:"], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")


def _round_trips(tok, text: str) -> bool:
    return tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


@pytest.mark.parametrize(
    "make_tokenizer", [_stories_tokenizer, _tiny_bpe_tokenizer], ids=["stories260k", "tiny-bpe"]
)
def test_prompt_masked_labels_decode_to_response_plus_eos(make_tokenizer) -> None:
    tok = make_tokenizer()
    # sentencepiece collapses runs of spaces, so compare with texts the tokenizer reproduces exactly
    examples = [e for e in load_instructions(str(ALPACA_1K))[:20] if _round_trips(tok, e["output"])][:8]
    items = tokenize_for_causal_lm(examples, tok, max_length=4096)
    assert len(items) == 8
    for ex, item in zip(examples, items, strict=True):
        ids, labels = item["input_ids"], item["labels"]
        assert len(ids) == len(labels) == len(item["attention_mask"])
        n_prompt = labels.index(next(x for x in labels if x != IGNORE_INDEX))
        assert all(x == IGNORE_INDEX for x in labels[:n_prompt])
        assert labels[n_prompt:] == ids[n_prompt:]  # no hole after the prompt
        assert tok.decode(ids[:n_prompt], skip_special_tokens=True) == format_prompt(ex)
        assert tok.decode(labels[n_prompt:]) == ex["output"] + tok.eos_token
    if tok.bos_token_id is not None:  # stories260k: the tokenizer's own BOS starts the prompt
        assert all(item["input_ids"][0] == tok.bos_token_id for item in items)


def test_truncation_keeps_prompt_start_and_drops_prompt_only_examples(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tok = _stories_tokenizer()
    short = {"instruction": "Hi.", "input": "", "output": "Once upon a time there was a girl. " * 20}
    long = {"instruction": "word " * 300, "input": "", "output": "ok"}
    n_prompt = len(tok(format_prompt(short))["input_ids"])
    items = tokenize_for_causal_lm([short, long], tok, max_length=n_prompt + 5)
    assert len(items) == 1  # the long prompt leaves no room for the response
    assert "dropped 1 example(s)" in caplog.text
    assert (
        items[0]["input_ids"]
        == tok(format_prompt(short))["input_ids"]
        + tok(short["output"], add_special_tokens=False)["input_ids"][:5]
    )
    assert items[0]["labels"][n_prompt:] == items[0]["input_ids"][n_prompt:]
    with pytest.raises(UserInputError, match="max_length=10 leaves no response tokens"):
        tokenize_for_causal_lm([long], tok, max_length=10)


def test_causal_lm_collator_pads_labels_with_ignore_index() -> None:
    tok = _stories_tokenizer()
    assert tok.pad_token is None
    items = tokenize_for_causal_lm(load_instructions(str(ALPACA_1K))[:3], tok, max_length=512)
    batch = causal_lm_collator(tok)(items)
    longest = max(len(i["input_ids"]) for i in items)
    assert batch["input_ids"].shape == batch["labels"].shape == (3, longest)
    for row, item in enumerate(items):
        n = len(item["input_ids"])
        assert batch["labels"][row, :n].tolist() == item["labels"]
        assert (batch["labels"][row, n:] == IGNORE_INDEX).all()
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (longest - n)


def test_split_heldout_by_seed() -> None:
    data = list(range(50))
    train, held = split_heldout(data, 10, seed=3)
    assert len(held) == 10 and sorted(train + held) == data
    assert held == sorted(held) and train == sorted(train)  # file order kept
    assert split_heldout(data, 10, seed=3) == (train, held)
    assert split_heldout(data, 10, seed=4)[1] != held
    for bad in (-1, 50):
        with pytest.raises(UserInputError, match=f"n_heldout={bad} must be between 0 and 49"):
            split_heldout(data, bad, seed=0)
