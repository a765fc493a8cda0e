"""LLaMA-Factory's evaluation metrics, computed by the libraries made for them.

- BLEU-4: nltk's sentence_bleu on characters, smoothing method 3 (×100).
- ROUGE-1/2/L: rouge-chinese's F scores on jieba's words (×100); an empty prediction or label scores 0.
- accuracy: per row, the share of answer tokens whose argmax prediction (at the position before) is right,
  averaged over rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

IGNORE_INDEX = -100
SIMILARITY_KEYS = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


def similarity(predict: str, label: str) -> dict[str, float]:
    """BLEU-4 and ROUGE-1/2/L F of one prediction against its label, in percent, rounded to 4 places."""
    import jieba
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_chinese import Rouge

    jieba.setLogLevel(logging.WARNING)
    hypothesis, reference = " ".join(jieba.cut(predict)), " ".join(jieba.cut(label))
    if not hypothesis.split() or not reference.split():
        rouge = {"rouge-1": 0.0, "rouge-2": 0.0, "rouge-l": 0.0}
    else:
        scores = Rouge().get_scores(hypothesis, reference)[0]
        rouge = {key: scores[key]["f"] for key in ("rouge-1", "rouge-2", "rouge-l")}
    bleu = sentence_bleu([list(label)], list(predict), smoothing_function=SmoothingFunction().method3)
    return {"bleu-4": round(float(bleu) * 100, 4), **{k: round(v * 100, 4) for k, v in rouge.items()}}


def mean_scores(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    """The mean of each score over rows (empty: no keys)."""
    rows = list(rows)
    if not rows:
        return {}
    return {key: round(float(np.mean([row[key] for row in rows])), 4) for key in rows[0]}


def token_accuracy(predictions: Any, labels: Any) -> float:
    """Mean over rows of the share of label tokens predicted right; rows without label tokens are skipped.

    `predictions` are argmax ids at each position (predicting the next token), `labels` the input's labels;
    both [rows, length], padded with IGNORE_INDEX.
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    shares = []
    for pred, label in zip(predictions[:, :-1], labels[:, 1:]):
        mask = label != IGNORE_INDEX
        if mask.any():
            shares.append(float(np.mean(pred[mask] == label[mask])))
    return float(np.mean(shares)) if shares else 0.0


def compute_accuracy(eval_prediction: Any) -> dict[str, float]:
    """The Trainer's `compute_metrics` for `compute_accuracy`: {"accuracy": …}."""
    return {"accuracy": token_accuracy(eval_prediction.predictions, eval_prediction.label_ids)}


def argmax_logits(logits: Any, labels: Any) -> Any:
    """The Trainer's `preprocess_logits_for_metrics`: keep only the argmax ids, not the whole vocabulary."""
    if isinstance(logits, (list, tuple)):
        logits = logits[0]
    return logits.argmax(dim=-1)
