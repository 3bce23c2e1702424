"""GLUE loading: the real release files (each quirk) and one synthetic file per kind of bad input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hyperadalora.data import GLUE_TASKS, get_task, glue_metrics, load_glue_split, tokenize_glue
from hyperadalora.data.collate import classification_collator
from hyperadalora.errors import UserInputError

GLUE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "glue"


@pytest.mark.parametrize(
    ("task", "folder", "n_train", "n_dev", "n_labels"),
    [
        ("rte", "RTE", 2490, 277, 2),
        ("wnli", "WNLI", 635, 71, 2),
        ("mnli", "MNLI", 9999, 9815, 3),
        ("sst2", "SST-2", 67349, 872, 2),
        ("cola", "CoLA", 8551, 1043, 2),
        ("mrpc", "MRPC", 3668, 408, 2),
    ],
)
def test_real_glue_row_counts(task: str, folder: str, n_train: int, n_dev: int, n_labels: int) -> None:
    train = load_glue_split(task, "train", GLUE / folder)
    dev = load_glue_split(task, "dev", GLUE / folder)
    assert (len(train), len(dev)) == (n_train, n_dev)  # the counts of shared/data/README.md
    assert set(Counter(e["label"] for e in train)) == set(range(n_labels))
    assert GLUE_TASKS[task].num_labels == n_labels
    pair = len(GLUE_TASKS[task].text_columns) == 2
    assert all((e["text_b"] is not None) == pair and e["text_a"] for e in train)


def test_rte_labels_follow_hub_convention() -> None:
    train = load_glue_split("rte", "train", GLUE / "RTE")
    # train.tsv line 2: "No Weapons of Mass Destruction Found in Iraq Yet." ... not_entailment
    assert train[0] == {
        "text_a": "No Weapons of Mass Destruction Found in Iraq Yet.",
        "text_b": "Weapons of Mass Destruction Found in Iraq.",
        "label": 1,
    }


def test_mnli_gold_label_column_and_dev_matched() -> None:
    dev = load_glue_split("mnli", "dev", GLUE / "MNLI")  # read from dev_matched.tsv
    assert dev[0]["text_a"] == "The new rights are nice enough"
    assert dev[0]["label"] == 1  # neutral; entailment=0, neutral=1, contradiction=2
    assert dev[1]["label"] == 2  # contradiction


def test_mrpc_bom_header_and_quotes_kept_verbatim() -> None:
    train = load_glue_split("mrpc", "train", GLUE / "MRPC")  # header "\ufeffQuality" must still match
    assert train[0]["text_a"].startswith('Amrozi accused his brother, whom he called "the witness"')
    dev = load_glue_split("mrpc", "dev", GLUE / "MRPC")
    # an unbalanced quote: CSV quoting would swallow the following lines into this field
    assert dev[0]["text_b"] == '"The foodservice pie business does not fit our long-term growth strategy.'
    assert dev[1]["label"] == 0


def test_cola_headerless_first_line_is_data() -> None:
    train = load_glue_split("cola", "train", GLUE / "CoLA")
    assert train[0] == {
        "text_a": "Our friends won't buy this analysis, let alone the next one we propose.",
        "text_b": None,
        "label": 1,
    }


def test_task_aliases_and_unknown_task() -> None:
    assert get_task("SST-2").name == "sst2"
    assert get_task("RTE").name == "rte"
    with pytest.raises(UserInputError, match="unknown GLUE task 'rtee'; choose one of: cola, mnli"):
        get_task("rtee")
    with pytest.raises(UserInputError, match="unknown GLUE split 'test'"):
        load_glue_split("rte", "test", GLUE / "RTE")


def test_glue_metrics_per_task() -> None:
    assert set(glue_metrics("rte", [0, 1], [0, 0])) == {"accuracy"}
    assert glue_metrics("mrpc", [1, 1], [1, 0]) == pytest.approx({"accuracy": 0.5, "f1": 2 / 3})
    assert set(glue_metrics("qqp", [1], [1])) == {"accuracy", "f1"}
    assert set(glue_metrics("cola", [1, 0], [1, 0])) == {"accuracy", "mcc"}


# --- bad input -------------------------------------------------------------------------------------


def _task_dir(tmp_path: Path, train: bytes | str, dev: bytes | str | None = None, name: str = "RTE") -> Path:
    root = tmp_path / name
    root.mkdir()
    for fname, content in (("train.tsv", train), ("dev.tsv", train if dev is None else dev)):
        data = content.encode() if isinstance(content, str) else content
        (root / fname).write_bytes(data)
    return root


RTE_HEADER = "index\tsentence1\tsentence2\tlabel\n"
RTE_OK = (
    RTE_HEADER + "0\tA man sleeps.\tA person sleeps.\tentailment\n1\tIt rains.\tIt is dry.\tnot_entailment\n"
)


def test_missing_directory_lists_expected_files(tmp_path: Path) -> None:
    with pytest.raises(
        UserInputError, match=r"nope: GLUE data directory not found; expected .*train\.tsv and dev\.tsv"
    ):
        load_glue_split("rte", "train", tmp_path / "nope")


def test_directory_without_expected_files(tmp_path: Path) -> None:
    (tmp_path / "train.tsv").write_text(RTE_OK)
    with pytest.raises(UserInputError, match=r"missing dev_matched\.tsv for task mnli .* found: train\.tsv"):
        load_glue_split("mnli", "train", tmp_path)


def test_missing_column_named_with_columns_found(tmp_path: Path) -> None:
    root = _task_dir(tmp_path, "index\tsentence1\tsentence2\n0\ta\tb\n")
    with pytest.raises(UserInputError) as err:
        load_glue_split("rte", "train", root)
    assert str(err.value) == (
        f"{root / 'train.tsv'}: line 1: missing column(s) 'label' for task rte; "
        "found columns: 'index', 'sentence1', 'sentence2'"
    )


def test_csv_given_as_tsv(tmp_path: Path) -> None:
    root = _task_dir(tmp_path, "index,sentence1,sentence2,label\n0,a,b,entailment\n")
    with pytest.raises(UserInputError, match=r"train\.tsv: line 1: found a single field .* comma-separated"):
        load_glue_split("rte", "train", root)


def test_ragged_row_line_number(tmp_path: Path) -> None:
    root = _task_dir(tmp_path, RTE_OK + "2\tonly two fields\tentailment\n")
    with pytest.raises(UserInputError, match=r"train\.tsv: line 4: expected 4 tab-separated fields, got 3$"):
        load_glue_split("rte", "train", root)


def test_non_utf8_line_number(tmp_path: Path) -> None:
    root = _task_dir(tmp_path, RTE_OK.encode() + b"2\tcaf\xe9\tx\tentailment\n")
    with pytest.raises(UserInputError, match=r"train\.tsv: line 4: invalid UTF-8 byte 0xe9"):
        load_glue_split("rte", "train", root)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    root = _task_dir(tmp_path, "")
    with pytest.raises(UserInputError, match=r"train\.tsv: file is empty"):
        load_glue_split("rte", "train", root)
    root = _task_dir(tmp_path, RTE_HEADER, name="RTE2")
    with pytest.raises(UserInputError, match=r"train\.tsv: no data rows \(empty split\)"):
        load_glue_split("rte", "train", root)


def test_label_outside_task_set(tmp_path: Path) -> None:
    root = _task_dir(tmp_path, RTE_OK + "2\ta\tb\tneutral\n")
    with pytest.raises(
        UserInputError,
        match=r"train\.tsv: line 4: label 'neutral' is not one of entailment, not_entailment \(column 'label', task rte\)",
    ):
        load_glue_split("rte", "train", root)


def test_dev_label_never_seen_in_train(tmp_path: Path) -> None:
    train = RTE_HEADER + "0\ta\tb\tentailment\n1\tc\td\tentailment\n"
    root = _task_dir(tmp_path, train, dev=RTE_OK)
    with pytest.raises(
        UserInputError, match=r"dev\.tsv: line 3: label 'not_entailment' never occurs in train\.tsv"
    ):
        load_glue_split("rte", "dev", root)
    assert len(load_glue_split("rte", "train", root)) == 2  # train alone is fine


def test_bom_crlf_blank_lines_and_quotes(tmp_path: Path) -> None:
    content = ("\ufeff" + RTE_OK + '\n2\t"unbalanced\tquote"s\tentailment\n').replace("\n", "\r\n")
    root = _task_dir(tmp_path, content)
    rows = load_glue_split("rte", "train", root)
    assert len(rows) == 3
    assert rows[2] == {"text_a": '"unbalanced', "text_b": 'quote"s', "label": 0}


def test_original_twelve_column_mnli_file(tmp_path: Path) -> None:
    header = (
        "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
        "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
    )
    row = "0\t1\t1e\tgov\t( a )\t( b )\t(ROOT a)\t(ROOT b)\tPremise.\tHypothesis.\tneutral\tneutral\n"
    root = tmp_path / "MNLI"
    root.mkdir()
    (root / "train.tsv").write_text(header + row)
    (root / "dev_matched.tsv").write_text(header + row)
    assert load_glue_split("mnli", "dev", root) == [
        {"text_a": "Premise.", "text_b": "Hypothesis.", "label": 1}
    ]


def test_cola_headerless_wrong_width(tmp_path: Path) -> None:
    root = _task_dir(tmp_path, "gj04\t1\t\tGood.\ngj04\t1\tBad.\n", name="CoLA")
    with pytest.raises(UserInputError, match=r"train\.tsv: line 2: expected 4 tab-separated fields, got 3"):
        load_glue_split("cola", "train", root)


# --- Hub path (the real call is made with datasets; here load_dataset is replaced) -----------------


def test_hub_path_uses_hub_split_and_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load_dataset(name, config, split):
        calls.append((name, config, split))
        return [{"premise": "P", "hypothesis": "H", "label": 2, "idx": 0}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert load_glue_split("mnli", "dev", None) == [{"text_a": "P", "text_b": "H", "label": 2}]
    assert calls == [("nyu-mll/glue", "mnli", "validation_matched")]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: [{"sentence": "s", "label": -1, "idx": 0}])
    with pytest.raises(UserInputError, match="label -1 is not in 0..1"):
        load_glue_split("sst2", "train", None)


# --- tokenization and collation ----------------------------------------------------------------------


def _bert_tokenizer(tmp_path: Path):
    from transformers import BertTokenizerFast

    words = "a man sleeps person it rains is dry . the".split()
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    return BertTokenizerFast(vocab=str(vocab))  # transformers 5: `vocab`, a path or a dict


def test_tokenize_glue_pairs_and_dynamic_padding(tmp_path: Path) -> None:
    tok = _bert_tokenizer(tmp_path)
    root = _task_dir(tmp_path, RTE_OK)
    items = tokenize_glue(load_glue_split("rte", "train", root), tok, max_length=16)
    assert [i["labels"] for i in items] == [0, 1]
    assert tok.decode(items[0]["input_ids"]) == "[CLS] a man sleeps. [SEP] a person sleeps. [SEP]"
    assert items[0]["token_type_ids"].count(1) == 5  # "a person sleeps . [SEP]"
    batch = classification_collator(tok)(items)
    assert batch["input_ids"].shape == (2, max(len(i["input_ids"]) for i in items))  # padded to the longest
    assert batch["labels"].tolist() == [0, 1]
    assert batch["attention_mask"].sum().item() == sum(len(i["input_ids"]) for i in items)
    short = tokenize_glue(load_glue_split("rte", "train", root), tok, max_length=6)
    assert max(len(i["input_ids"]) for i in short) == 6
