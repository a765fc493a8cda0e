"""Aligned rows to token ids and labels: prompt tokens masked, answers trained, cut to cutoff_len."""

from __future__ import annotations

from typing import Any

from . import IGNORE_INDEX
from .aligned import Unfit
from .templates import Template

Pair = tuple[list[int], list[int]]


def encode_supervised(row: dict, template: Template, tokenizer: Any, cutoff_len: int,
                      train_on_prompt: bool = False, mask_history: bool = False) -> tuple[dict, bool]:
    """input_ids/labels of one chat row, and whether it was truncated; raises Unfit when nothing is trained.

    Templates with one eos per example (LLaMA-Factory's efficient_eos) end with it, and train it where the next
    turn's prompt starts, as LLaMA-Factory does.
    """
    pairs = template.encode_turns(tokenizer, row["prompt"] + row["response"][:1], row["system"], row["tools"],
                                  mask_history=mask_history)
    eos = [tokenizer.eos_token_id] if template.efficient_eos and tokenizer.eos_token_id is not None else []
    pairs, truncated = truncate_turns(pairs, cutoff_len - len(eos), keep_last=mask_history)
    first = len(pairs) - 1 if mask_history else 0  # LLaMA-Factory walks the turns last-first with mask_history
    input_ids: list[int] = []
    labels: list[int] = []
    for n, (prompt, answer) in enumerate(pairs):
        trained = not mask_history or n == len(pairs) - 1
        input_ids += prompt + answer
        if train_on_prompt:
            labels += prompt
        elif eos and n != first and prompt:
            labels += eos + [IGNORE_INDEX] * (len(prompt) - 1)
        else:
            labels += [IGNORE_INDEX] * len(prompt)
        labels += answer if trained else [IGNORE_INDEX] * len(answer)
    input_ids += eos
    labels += eos
    if all(label == IGNORE_INDEX for label in labels):
        raise Unfit(f"no answer tokens left within cutoff_len={cutoff_len}")
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}, truncated


def truncate_turns(pairs: list[Pair], cutoff_len: int, keep_last: bool = False) -> tuple[list[Pair], bool]:
    """Keep whole turns from the start (from the end when `keep_last`) and cut the first that overflows."""
    if sum(len(p) + len(a) for p, a in pairs) <= cutoff_len:
        return pairs, False
    order = list(reversed(pairs)) if keep_last else pairs
    kept: list[Pair] = []
    budget = cutoff_len
    for prompt, answer in order:
        if len(prompt) + len(answer) <= budget:
            kept.append((prompt, answer))
            budget -= len(prompt) + len(answer)
            continue
        if budget > 1:  # give the answer at least half of what is left, the prompt keeps the rest
            answer_len = min(len(answer), max(budget - len(prompt), budget // 2))
            prompt_len = min(len(prompt), budget - answer_len)
            kept.append((prompt[:prompt_len], answer[:answer_len]))
        break
    return (list(reversed(kept)) if keep_last else kept), True


def encode_text(text: str, tokenizer: Any) -> dict:
    """Pretraining ids of one text: the tokenizer's special tokens around it and eos at the end."""
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids = ids + [tokenizer.eos_token_id]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)}


def cut_text(example: dict, cutoff_len: int) -> tuple[dict, bool]:
    """An unpacked pretraining example cut to cutoff_len tokens."""
    if len(example["input_ids"]) <= cutoff_len:
        return example, False
    return {k: v[:cutoff_len] for k, v in example.items()}, True
