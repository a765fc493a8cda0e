"""Evaluation and prediction in a run: after training, or alone (do_train: false) on the base or an adapter.

do_eval: eval_loss by the Trainer (and token accuracy with compute_accuracy), or with predict_with_generate
the BLEU/ROUGE of generated answers, as LLaMA-Factory does. do_predict: generated answers written to
generated_predictions.jsonl and their scores to predict_results.json. Progress goes to the journal.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from ..config import TrainConfig
from ..data.templates import Template
from ..train.distributed import is_main_process
from .predict import eval_rows, generate_answers, make_samples, save_results, score, write_predictions

Echo = Callable[[str], None]


def evaluate_and_predict(config: TrainConfig, run_dir: Path, events: Any, echo: Echo | None, model: Any,
                         tokenizer: Any, template: Template, trainer: Any = None,
                         rows: list[dict] | None = None) -> dict[str, Any]:
    """Run do_eval then do_predict with this model; returns their metrics together.

    `trainer` evaluates the loss (its journal callback writes the `eval` event); `rows` are the aligned
    evaluation rows when already read."""
    metrics: dict[str, Any] = {}
    if config.do_eval and not config.predict_with_generate and trainer is not None:
        result = trainer.evaluate()
        save_results(run_dir, "eval", result)
        metrics.update(result)
    generating = [split for split, on in (("eval", config.do_eval and config.predict_with_generate),
                                          ("predict", config.do_predict)) if on]
    if generating and is_main_process():
        samples = make_samples(rows if rows is not None else eval_rows(config), template, tokenizer,
                               config.cutoff_len)
        for split in generating:
            result = _generate(config, run_dir, events, echo, model, tokenizer, template, samples, split)
            metrics.update(result)
    return metrics


def _generate(config: TrainConfig, run_dir: Path, events: Any, echo: Echo | None, model: Any, tokenizer: Any,
              template: Template, samples: list, split: str) -> dict[str, Any]:
    def progress(done: int, total: int, seconds: float) -> None:
        eta = seconds / done * (total - done) if done else None
        events.emit("predict", split=split, rows_done=done, rows_total=total, elapsed_s=round(seconds, 1),
                    eta_s=round(eta, 1) if eta is not None else None)
        if echo:
            echo(f"{split}: generated {done}/{total} answers")

    t0 = time.monotonic()
    answers = generate_answers(model, tokenizer, template, config, samples, progress)
    result = score(samples, answers, split, time.monotonic() - t0, config.per_device_eval_batch_size)
    if split == "predict":
        write_predictions(run_dir, samples, answers)
    save_results(run_dir, split, result)
    events.emit("predict", split=split, rows_done=len(samples), rows_total=len(samples), metrics=result)
    if split == "eval":
        events.emit("eval", step=0, **result)
    if echo:
        echo(f"{split}: " + ", ".join(f"{k}={v:.4g}" for k, v in result.items()))
    return result


def run_without_training(config: TrainConfig, run_dir: Path, events: Any, echo: Echo | None) -> dict[str, Any]:
    """do_train: false — load the model (with adapter_name_or_path), evaluate and/or predict; the `done` event."""
    from transformers import PrinterCallback

    from ..data.pipeline import stage_template
    from ..models import load_model, load_tokenizer
    from ..sizing import measured_peak_gb
    from ..train.journal import JournalCallback

    say = echo or (lambda line: None)
    t0 = time.time()
    say(f"Loading tokenizer and evaluation rows for {config.model_name_or_path} …")
    tokenizer = load_tokenizer(config)
    template = stage_template(config, tokenizer)
    rows = eval_rows(config)
    say("Loading model …")
    model = load_model(config, for_training=False)
    mode = [name for name, on in (("eval", config.do_eval), ("predict", config.do_predict)) if on]
    events.emit("start", stage=config.stage, model=config.model_name_or_path, output_dir=str(run_dir),
                num_examples=len(rows), max_steps=0, pid=os.getpid(),
                plan={"mode": "+".join(mode), "adapter": config.adapter_name_or_path, "eval_rows": len(rows),
                      "predict_with_generate": config.predict_with_generate, "dataset": config.eval_dataset})
    trainer = None
    if config.do_eval and not config.predict_with_generate:
        trainer = eval_trainer(config, model, tokenizer, template, rows)
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(JournalCallback(events, run_dir, measured_peak_gb, echo))
    metrics = evaluate_and_predict(config, run_dir, events, echo, model, tokenizer, template, trainer, rows)
    runtime = round(time.time() - t0, 2)
    done = events.emit("done", status="done", step=0, max_steps=0, train_loss=None, runtime_s=runtime,
                       output=str(run_dir), metrics=metrics)
    say(f"Done: {run_dir}")
    return done


def eval_trainer(config: TrainConfig, model: Any, tokenizer: Any, template: Template, rows: list[dict]) -> Any:
    """A Trainer that only evaluates: the rows tokenized as for training, padded batches, accuracy if asked."""
    import datasets

    from ..data.collator import make_collator
    from ..config import resolve
    from ..data.pipeline import pack, tokenize_rows
    from ..data.report import DataReport
    from ..config.resolve import attn_implementation
    from ..train.trainer import LmfTrainer, counting_collator, training_arguments
    from .metrics import argmax_logits, compute_accuracy

    examples = tokenize_rows(rows, config, tokenizer, template, DataReport(cutoff_len=config.cutoff_len))
    if resolve.packing(config):  # laid out as training lays them out (pt text chunked to cutoff_len)
        examples = pack(examples, config)
    if getattr(model, "is_quantized", False):  # the Trainer refuses a bare quantized model, meant for training
        model._hf_peft_config_loaded = True
    padded = config.model_copy(update={"padding_free": False})
    accuracy = dict(compute_metrics=compute_accuracy, preprocess_logits_for_metrics=argmax_logits) \
        if config.compute_accuracy else {}
    return LmfTrainer(model=model, args=training_arguments(config, gradient_checkpointing=False),
                      eval_dataset=datasets.Dataset.from_list(examples),
                      data_collator=counting_collator(make_collator(padded, tokenizer, attn_implementation(config))),
                      processing_class=tokenizer, lmf_config=config, **accuracy)
