"""LLaMA-Factory's metrics, computed by nltk / rouge-chinese / jieba, against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evaluate.metrics import IGNORE_INDEX, mean_scores, similarity, token_accuracy


def test_rouge_on_english_words():
    # words: the cat sat on the mat / the cat is on the mat. ROUGE-N counts distinct n-grams (rouge-chinese):
    # unigrams {the,cat,sat,on,mat} vs {the,cat,is,on,mat}: 4 of 5 each side -> F = 0.8;
    # bigrams: the cat, on the, the mat shared, 3 of 5 -> 0.6; LCS "the cat on the mat" = 5 of 6 -> 5/6.
    scores = similarity("the cat sat on the mat", "the cat is on the mat")
    assert scores["rouge-1"] == pytest.approx(80.0, abs=1e-3)
    assert scores["rouge-2"] == pytest.approx(60.0, abs=1e-3)
    assert scores["rouge-l"] == pytest.approx(100 * 5 / 6, abs=1e-3)


def test_bleu_on_characters_with_smoothing():
    # characters a b c d vs a b c e: p1 3/4, p2 2/3, p3 1/2, p4 0/1 -> method 3 makes it 1/(2*1);
    # equal lengths, no brevity penalty: BLEU = (3/4 * 2/3 * 1/2 * 1/2) ** (1/4).
    scores = similarity("abcd", "abce")
    assert scores["bleu-4"] == pytest.approx(100 * (0.75 * 2 / 3 * 0.5 * 0.5) ** 0.25, abs=1e-3)
    assert scores["rouge-1"] == 0.0  # jieba keeps "abcd" and "abce" as one word each: nothing shared


def test_chinese_is_segmented_by_jieba():
    # jieba: 我/爱/北京/天安门 vs 我/爱/北京. ROUGE-1: 3 shared, P 3/4, R 1 -> 6/7; ROUGE-2: 我爱, 爱北京 shared,
    # P 2/3, R 1 -> 0.8; ROUGE-L: LCS 3 -> 6/7.
    # BLEU on characters: p1 4/7, p2 3/6, p3 2/5, p4 1/4, longer than the label so no brevity penalty.
    scores = similarity("我爱北京天安门", "我爱北京")
    assert scores["rouge-1"] == pytest.approx(100 * 6 / 7, abs=1e-3)
    assert scores["rouge-2"] == pytest.approx(80.0, abs=1e-3)
    assert scores["rouge-l"] == pytest.approx(100 * 6 / 7, abs=1e-3)
    assert scores["bleu-4"] == pytest.approx(100 * (4 / 7 * 3 / 6 * 2 / 5 * 1 / 4) ** 0.25, abs=1e-3)


def test_short_prediction_pays_the_brevity_penalty():
    # every n-gram of 我爱北京 is in the label: precisions 1; brevity penalty exp(1 - 7/4).
    scores = similarity("我爱北京", "我爱北京天安门")
    assert scores["bleu-4"] == pytest.approx(100 * math.exp(1 - 7 / 4), abs=1e-3)


def test_exact_and_empty_answers():
    assert similarity("Paris is big.", "Paris is big.") == pytest.approx(
        {"bleu-4": 100.0, "rouge-1": 100.0, "rouge-2": 100.0, "rouge-l": 100.0})
    empty = similarity("", "Paris is the capital.")
    assert empty == {"bleu-4": 0.0, "rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}


def test_mean_scores():
    assert mean_scores([{"bleu-4": 10.0}, {"bleu-4": 30.0}]) == {"bleu-4": 20.0}
    assert mean_scores([]) == {}


def test_token_accuracy_is_per_row_then_averaged():
    # predictions at position t are for token t+1; labels -100 are not counted.
    labels = np.array([[IGNORE_INDEX, 5, 6, 7], [IGNORE_INDEX, IGNORE_INDEX, 8, IGNORE_INDEX]])
    preds = np.array([[5, 6, 0, 9], [1, 8, 3, 4]])
    # row 0: predicts 5,6,0 for 5,6,7 -> 2/3; row 1: predicts 8 for 8 -> 1; mean 5/6
    assert token_accuracy(preds, labels) == pytest.approx(5 / 6)
    assert token_accuracy(np.zeros((1, 3)), np.full((1, 3), IGNORE_INDEX)) == 0.0
