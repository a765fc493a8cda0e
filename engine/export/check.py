"""Check a GGUF file against the merged Hugging Face model: greedy continuations and top-1 agreement."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..data.templates import stop_token_ids

CHECK_PROMPTS = ("Hello! Who are you?", "What is the capital of France?", "Write one sentence about the sea.")
CHECK_TOKENS = 8
TIE_MARGIN = 0.05  # a first difference where the HF model's two choices are this close is a tie, not a mismatch


@dataclass
class CheckResult:
    """How a GGUF file agrees with the HF model: greedy prefix lengths per prompt and top-1 agreement."""

    gguf: str
    matched: list[int]
    compared: list[int]
    margins: list[float | None]
    top1: float

    @property
    def greedy_match(self) -> bool:
        """Every prompt's greedy continuation equals the HF model's, or first differs at a near-tie."""
        return all(m == c or (g is not None and g < TIE_MARGIN)
                   for m, c, g in zip(self.matched, self.compared, self.margins))

    def summary(self) -> str:
        pairs = ", ".join(f"{m}/{c}" + (f" (tie {g:.3f})" if m < c and g is not None and g < TIE_MARGIN else "")
                          for m, c, g in zip(self.matched, self.compared, self.margins))
        return f"greedy tokens equal {pairs}; top-1 agreement {self.top1:.0%}"


def prompt_ids(tokenizer: PreTrainedTokenizerBase, prompts: tuple[str, ...] = CHECK_PROMPTS) -> list[list[int]]:
    """The check prompts as chat-formatted token ids (the same ids go to both models)."""
    out = []
    for prompt in prompts:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


@torch.no_grad()
def hf_greedy(model: PreTrainedModel, prompts: list[list[int]], n: int, stop_ids: set[int]) -> list[list[int]]:
    """Greedy continuations of each prompt by the HF model, ending at a stop token or after n tokens."""
    out = []
    for ids in prompts:
        seq = list(ids)
        for _ in range(n):
            logits = model(input_ids=torch.tensor([seq], device=model.device)).logits[0, -1]
            seq.append(int(logits.argmax()))
            if seq[-1] in stop_ids:
                break
        out.append(seq[len(ids):])
    return out


@torch.no_grad()
def hf_logits(model: PreTrainedModel, sequences: list[list[int]]) -> list[np.ndarray]:
    """The HF model's logits at every position of each sequence (teacher-forced), in float32."""
    return [model(input_ids=torch.tensor([seq], device=model.device)).logits[0].float().cpu().numpy()
            for seq in sequences]


def gguf_runs(path: Path, prompts: list[list[int]], sequences: list[list[int]], n: int,
              stop_ids: set[int]) -> tuple[list[list[int]], list[np.ndarray]]:
    """llama.cpp's greedy continuations of the prompts and its argmax at every position of the sequences."""
    from llama_cpp import Llama

    from ..chat.device import llama_cpp_gpu_layers

    longest = max(len(s) for s in [*prompts, *sequences]) + n + 8
    llm = Llama(model_path=str(path), n_ctx=max(256, longest), logits_all=True, verbose=False,
                n_gpu_layers=llama_cpp_gpu_layers("auto"))  # every layer on the GPU where llama.cpp was built for one
    try:
        greedy = []
        for ids in prompts:
            llm.reset()
            llm.eval(ids)
            new: list[int] = []
            while len(new) < n:
                new.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
                if new[-1] in stop_ids:
                    break
                llm.eval([new[-1]])
            greedy.append(new)
        top1 = []
        for seq in sequences:
            llm.reset()
            llm.eval(seq)
            top1.append(np.argmax(llm.scores[: len(seq)], axis=-1))
        return greedy, top1
    finally:
        llm.close()


def check_gguf(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, stop_words: list[str],
               files: list[Path], n: int = CHECK_TOKENS) -> list[CheckResult]:
    """Compare each GGUF file with the HF model on the check prompts."""
    stop_ids = set(stop_token_ids(tokenizer, stop_words))
    prompts = prompt_ids(tokenizer)
    reference = hf_greedy(model, prompts, n, stop_ids)
    sequences = [p + r for p, r in zip(prompts, reference)]
    logits = hf_logits(model, sequences)
    results = []
    for path in files:
        greedy, top1 = gguf_runs(path, prompts, sequences, n, stop_ids)
        matched = [_common_prefix(r, g) for r, g in zip(reference, greedy)]
        margins = [_margin(rows[len(p) + m - 1], r[m], g[m]) if m < min(len(r), len(g)) else None
                   for p, rows, r, g, m in zip(prompts, logits, reference, greedy, matched)]
        answers = [(rows[len(p) - 1:].argmax(-1), b[len(p) - 1:]) for p, rows, b in zip(prompts, logits, top1)]
        agree = sum(int((a == b).sum()) for a, b in answers) / max(1, sum(len(a) for a, _ in answers))
        results.append(CheckResult(path.name, matched, [len(r) for r in reference], margins, agree))
    return results


def _margin(row: np.ndarray, chosen: int, other: int) -> float:
    return float(row[chosen] - row[other])


def _common_prefix(a: list[int], b: list[int]) -> int:
    count = 0
    for x, y in zip(a, b):
        if x != y:
            break
        count += 1
    return count
