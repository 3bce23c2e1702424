"""Metrics on hand-checked values."""

from __future__ import annotations

import math

import pytest

from hyperadalora.metrics import accuracy, bleu4, f1, matthews_corrcoef, rouge1


def test_accuracy() -> None:
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5
    assert accuracy([2, 2], [2, 2]) == 1.0


def test_f1_positive_class() -> None:
    # tp=2 (idx 0, 2), fp=1 (idx 3), fn=1 (idx 1): F1 = 2*2 / (2*2 + 1 + 1) = 2/3
    assert f1([1, 0, 1, 1, 0], [1, 1, 1, 0, 0]) == pytest.approx(2 / 3)
    assert f1([0, 0], [1, 1]) == 0.0


def test_mcc() -> None:
    assert matthews_corrcoef([0, 1, 0, 1], [0, 1, 0, 1]) == pytest.approx(1.0)
    assert matthews_corrcoef([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    assert matthews_corrcoef([1, 1, 1], [0, 1, 0]) == 0.0  # constant prediction: undefined, reported 0
    # tp=2 tn=1 fp=1 fn=1: (2*1 - 1*1) / sqrt(3*3*2*2) = 1/6
    assert matthews_corrcoef([1, 0, 1, 1, 0], [1, 1, 1, 0, 0]) == pytest.approx(1 / 6)


def test_length_mismatch_and_empty() -> None:
    with pytest.raises(ValueError, match="pair up"):
        accuracy([1], [1, 0])
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])


def test_bleu4_identical_and_partial() -> None:
    assert bleu4(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(100.0)
    # n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so no brevity penalty
    expected = 100 * math.exp(sum(math.log(p) for p in (5 / 6, 3 / 5, 2 / 4, 1 / 3)) / 4)
    assert bleu4(["the cat sat on the mat"], ["the cat sat on a mat"]) == pytest.approx(expected, abs=1e-3)


def test_rouge1_identical_and_partial() -> None:
    assert rouge1(["a quick brown fox"], ["a quick brown fox"]) == pytest.approx(100.0)
    # clipped unigram overlap 5 of 6 on both sides: F1 = 5/6; mean with an identical pair
    got = rouge1(["the cat sat on the mat", "hello there"], ["the cat sat on a mat", "hello there"])
    assert got == pytest.approx(100 * (5 / 6 + 1) / 2)
