"""Batched generation with left padding, honouring the config's sampling keys and the template's stop tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from ..config import TrainConfig
from ..data.templates import Template, stop_token_ids


def generation_kwargs(config: TrainConfig, tokenizer: Any, template: Template) -> dict[str, Any]:
    """`model.generate` arguments: max_new_tokens, repetition_penalty, num_beams (length_penalty with beams), and
    sampling (temperature, top_p, top_k) when do_sample is on and temperature above 0, else greedy."""
    stops = stop_token_ids(tokenizer, template.stop_words)
    kwargs: dict[str, Any] = dict(max_new_tokens=config.max_new_tokens, repetition_penalty=config.repetition_penalty,
                                  eos_token_id=stops, pad_token_id=pad_id(tokenizer), num_beams=config.num_beams,
                                  use_cache=True)  # a model just trained with gradient checkpointing has it off
    if config.num_beams > 1:
        kwargs["length_penalty"] = config.length_penalty
    if config.do_sample and config.temperature > 0:
        kwargs.update(do_sample=True, temperature=config.temperature, top_p=config.top_p, top_k=config.top_k)
    else:  # None overrides sampling values a model's generation_config may carry
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


def pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad) if pad is not None else 0


def left_pad(prompts: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask of the prompts, padded on the left to the longest."""
    longest = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), longest), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), longest), dtype=torch.long)
    for i, prompt in enumerate(prompts):
        ids[i, longest - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        mask[i, longest - len(prompt):] = 1
    return ids, mask


def generate_batches(model: Any, tokenizer: Any, prompts: list[list[int]], kwargs: dict[str, Any],
                     batch_size: int, skip_special_tokens: bool = True) -> Iterator[list[str]]:
    """The answer text of each prompt, one list per batch of `batch_size` prompts, in order."""
    stops = set(kwargs.get("eos_token_id") or [])
    device = next(model.parameters()).device
    model.eval()
    for start in range(0, len(prompts), batch_size):
        ids, mask = left_pad(prompts[start:start + batch_size], kwargs["pad_token_id"])
        with torch.no_grad():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
        answers = []
        for row in out[:, ids.shape[1]:].tolist():
            end = next((i for i, token in enumerate(row) if token in stops), len(row))
            answers.append(tokenizer.decode(row[:end], skip_special_tokens=skip_special_tokens).strip())
        yield answers
