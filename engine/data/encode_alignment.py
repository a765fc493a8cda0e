"""Token ids for the alignment stages: preference pairs (rm, dpo), tagged answers (kto), prompts (ppo, grpo).

Rows come from `load_aligned_rows` and render through the same Template as sft, so the chat format matches.
"""

from __future__ import annotations

from typing import Any

from engine.config.errors import ConfigError, Problem
from engine.config.schema import TrainConfig

from .aligned import Unfit
from .pipeline import DataBundle, encode_splits
from .report import DataReport
from .templates import Template, get_template


def prompt_and_answer(row: dict, answer: dict, template: Template, tokenizer: Any) -> tuple[list[int], list[int]]:
    """Token ids of the whole prompt (history included) and of one answer to it."""
    return template.encode_oneturn(tokenizer, row["prompt"] + [answer], row["system"], row["tools"])


def fit_lengths(prompt: list[int], answers: list[list[int]],
                cutoff_len: int) -> tuple[list[int], list[list[int]], bool]:
    """Cut prompt and answers so the prompt plus the longest answer fits cutoff_len (answers keep at least half)."""
    longest = max(len(a) for a in answers)
    if len(prompt) + longest <= cutoff_len:
        return prompt, answers, False
    answer_len = min(longest, max(cutoff_len - len(prompt), cutoff_len // 2))
    prompt_len = max(cutoff_len - answer_len, 0)
    return prompt[:prompt_len], [a[:answer_len] for a in answers], True


def encode_pair(row: dict, template: Template, tokenizer: Any, cutoff_len: int) -> tuple[dict, bool]:
    """{"prompt_ids", "chosen_ids", "rejected_ids"} of a ranking row, and whether it was cut."""
    prompt, chosen = prompt_and_answer(row, row["response"][0], template, tokenizer)
    prompt_r, rejected = prompt_and_answer(row, row["response"][1], template, tokenizer)
    if prompt != prompt_r:  # tokens merged across the prompt/answer boundary differently: split where they agree
        shared = next((i for i, (a, b) in enumerate(zip(prompt, prompt_r)) if a != b), min(len(prompt), len(prompt_r)))
        chosen, rejected = prompt[shared:] + chosen, prompt_r[shared:] + rejected
        prompt = prompt[:shared]
    if chosen == rejected:
        raise Unfit("chosen and rejected encode to the same tokens")
    prompt, (chosen, rejected), cut = fit_lengths(prompt, [chosen, rejected], cutoff_len)
    return {"prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected}, cut


def encode_tagged(row: dict, template: Template, tokenizer: Any, cutoff_len: int) -> tuple[dict, bool]:
    """{"prompt_ids", "completion_ids", "label"} of a KTO row (label: the answer is desirable)."""
    if row.get("kto_tag") is None:
        raise Unfit("no kto_tag value")
    prompt, answer = prompt_and_answer(row, row["response"][0], template, tokenizer)
    prompt, (answer,), cut = fit_lengths(prompt, [answer], cutoff_len)
    return {"prompt_ids": prompt, "completion_ids": answer, "label": bool(row["kto_tag"])}, cut


def encode_prompt(row: dict, template: Template, tokenizer: Any, cutoff_len: int) -> tuple[dict, bool]:
    """{"prompt", "prompt_ids"} of a row for online RL: the rendered prompt up to the generation header."""
    text = template.render(row["prompt"], add_generation_prompt=True, tools=row["tools"] or None,
                           system=row["system"])
    ids = template.prompt_ids(tokenizer, row["prompt"], row["system"], row["tools"])
    if len(ids) > cutoff_len:
        return {"prompt": tokenizer.decode(ids[-cutoff_len:]), "prompt_ids": ids[-cutoff_len:]}, True
    return {"prompt": text, "prompt_ids": ids}, False


ENCODERS = {"rm": encode_pair, "dpo": encode_pair, "kto": encode_tagged, "ppo": encode_prompt, "grpo": encode_prompt}


def build_aligned_datasets(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Tokenized train (and eval) examples for rm, dpo, kto, ppo or grpo, with the data report."""
    template = get_template(config, tokenizer)
    train, eval_examples, report = encode_splits(
        config, lambda rows, report: encode_rows(rows, config, tokenizer, template, report))
    if template.note:
        report.notes.append(template.note)
    return DataBundle(train=_to_dataset(train), eval=_to_dataset(eval_examples) if eval_examples else None,
                      report=report, template=template)


def encode_rows(rows: list[dict], config: TrainConfig, tokenizer: Any, template: Template,
                report: DataReport) -> list[dict]:
    """Encode each aligned row for the stage; unfit rows move from kept to dropped in the report."""
    encode = ENCODERS[config.stage]
    out = []
    for row in rows:
        try:
            example, cut = encode(row, template, tokenizer, config.cutoff_len)
        except Unfit as exc:
            report.unkeep(row["dataset"], str(exc))
            continue
        ids = [v for k, v in example.items() if k.endswith("_ids")]
        report.truncated += cut
        report.lengths.append(sum(len(v) for v in ids))
        report.tokens_seen += sum(len(v) for v in ids)
        out.append(example)
    if not out:
        raise ConfigError(Problem(("dataset",), f"no row fits stage {config.stage} after tokenizing "
                                  f"({', '.join(report.dropped) or 'none read'})",
                                  "raise cutoff_len or check the data"))
    return out


def _to_dataset(examples: list[dict]) -> Any:
    import datasets

    return datasets.Dataset.from_list(examples)
