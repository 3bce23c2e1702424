"""Evaluation metrics: classification scores in [0, 1]; BLEU-4 and ROUGE-1 on the 0-100 scale.

sacrebleu and rouge_score are imported inside the functions that need them, so importing this
module stays cheap.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def _check_pair(predictions: Sequence, labels: Sequence) -> None:
    if len(predictions) != len(labels):
        raise ValueError(f"got {len(predictions)} predictions for {len(labels)} labels; they must pair up")
    if not labels:
        raise ValueError("cannot score an empty set of predictions")


def accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    """Fraction of predictions equal to their label."""
    _check_pair(predictions, labels)
    return sum(int(p) == int(y) for p, y in zip(predictions, labels, strict=True)) / len(labels)


def f1(predictions: Sequence[int], labels: Sequence[int], positive: int = 1) -> float:
    """Binary F1 of class ``positive`` (GLUE's MRPC/QQP convention: positive = 1); 0 if undefined."""
    _check_pair(predictions, labels)
    tp = sum(int(p) == positive and int(y) == positive for p, y in zip(predictions, labels, strict=True))
    fp = sum(int(p) == positive and int(y) != positive for p, y in zip(predictions, labels, strict=True))
    fn = sum(int(p) != positive and int(y) == positive for p, y in zip(predictions, labels, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def matthews_corrcoef(predictions: Sequence[int], labels: Sequence[int]) -> float:
    """Matthews correlation coefficient (multiclass form of Gorodkin 2004); 0 when undefined, as sklearn."""
    _check_pair(predictions, labels)
    n = len(labels)
    correct = sum(int(p) == int(y) for p, y in zip(predictions, labels, strict=True))
    pred_counts = Counter(int(p) for p in predictions)
    true_counts = Counter(int(y) for y in labels)
    classes = pred_counts.keys() | true_counts.keys()
    cov_pt = correct * n - sum(pred_counts[k] * true_counts[k] for k in classes)
    cov_pp = n * n - sum(c * c for c in pred_counts.values())
    cov_tt = n * n - sum(c * c for c in true_counts.values())
    if cov_pp == 0 or cov_tt == 0:
        return 0.0
    return cov_pt / math.sqrt(cov_pp * cov_tt)


def bleu4(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 (sacrebleu defaults: 13a tokenisation, exp smoothing), 0-100; one reference each."""
    _check_pair(predictions, references)
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def rouge1(predictions: Sequence[str], references: Sequence[str], use_stemmer: bool = False) -> float:
    """Mean ROUGE-1 F1 over the pairs (rouge-score's tokeniser), times 100."""
    _check_pair(predictions, references)
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=use_stemmer)
    scores = [
        scorer.score(ref, pred)["rouge1"].fmeasure for pred, ref in zip(predictions, references, strict=True)
    ]
    return 100.0 * sum(scores) / len(scores)
