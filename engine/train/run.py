"""One training run, top to bottom: lock the run dir, load data and model, train, save, journal.

Every stage runs here; engine.stages supplies its data and Trainer. The run directory is the only thing
another process needs to follow it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from ..config import ConfigError, TrainConfig, check_config, save_config
from ..config.resolve import Hardware, resolve, resolved_values
from ..events import EVENTS_FILE, EventWriter
from ..distributed.strategy import device_problem, strategy_of
from ..errors import explain
from ..rundir import (CONFIG_FILE, RunLock, RunLocked, discard_partial_checkpoints, journal_status, last_checkpoint,
                      register_run)
from .distributed import (NullEvents, RanksCallback, from_rank0, is_main_process, join_cpu_group, leave_group, rank,
                          resume_note, world_size)
from .pissa import save_converted as save_pissa_converted
from .pissa import save_initial as save_pissa_initial
from .journal import JournalCallback
from .signals import GracefulStop
from .trainer import training_arguments

Echo = Callable[[str], None]


def run_training(config: TrainConfig, echo: Echo | None = None) -> dict[str, Any]:
    """Train as the config says; returns the `done` event. Raises ConfigError for bad input.

    Under torchrun every rank calls this; rank 0 alone locks and prepares the run directory and tells the
    others what it decided (or the error that stops them all), so no rank waits for one that gave up.
    """
    if problems := check_config(config, "train"):
        raise ConfigError(problems)
    run_dir = Path(config.output_dir).resolve()
    config = resolve(config.model_copy(update={"output_dir": str(run_dir)}), Hardware.detect())
    main = is_main_process()
    echo = echo if main else None
    if problem := device_problem(strategy_of(config), "cuda" if torch.cuda.is_available() and not config.use_cpu
                                 else "cpu"):  # also for ranks started by hand with torchrun
        raise ConfigError(problem)
    stop = GracefulStop()
    with stop:  # from the start: a stop while loading is honoured at the first step, on every rank
        join_cpu_group(config.ddp_timeout, config.use_cpu)
        args = training_arguments(config, not config.disable_gradient_checkpointing)
        args.device  # sets up the devices: under torchrun this joins the process group (ddp_timeout applies)
        lock = RunLock(run_dir) if main else None
        kind, value = from_rank0(_claim_run_dir(config, run_dir, lock) if main else None)
        try:
            if kind == "locked":
                raise RunLocked(value)
            if kind == "config":
                raise ConfigError(value)
            resume, note = value
            if main:
                register_run(run_dir)
            events = EventWriter(run_dir) if main else NullEvents()
            for partial in discard_partial_checkpoints(run_dir) if main else []:
                events.emit("warning", message=f"{partial.name} was cut short while saving (a crash or a full disk) "
                                               f"and was removed; resuming from {resume or 'the start'}")
            try:
                if note:
                    events.emit("warning", message=note)
                done = _train(config, run_dir, resume, events, echo, args, stop)
                leave_group()
                return done
            except ConfigError as exc:
                events.emit("error", message=str(exc), kind="config")
                raise
            except torch.OutOfMemoryError as exc:
                events.emit("error", message=f"out of memory: {str(exc).splitlines()[0]}",
                            fix="lower per_device_train_batch_size or cutoff_len, or set quantization_bit: 4")
                raise
            except Exception as exc:
                _journal_failure(exc, run_dir, events, main)
                raise
            finally:
                events.close()
        finally:
            if lock is not None:
                lock.release()


def _prefetch_hub(config: TrainConfig, events: EventWriter | NullEvents, say: Callable[[str], None]) -> None:
    """Fetch hub models and data sets before loading them, with `download` events and a line every ~10 s."""
    from ..data.dataset_info import resolve_datasets
    from ..download import DownloadProgress, prefetch
    from ..models.source import resolve_model_source

    source = resolve_model_source(config)
    targets = [] if source.is_gguf or Path(source.path).exists() else [(source.path, "model", config.model_revision)]
    targets += [(attr.source, "dataset", None) for attr in (resolve_datasets(config) if config.dataset else [])
                if attr.load_from == "hf_hub"]
    said = [float("-inf")]

    def report(progress: DownloadProgress) -> None:
        events.emit("download", **progress.fields())
        if progress.finished or time.monotonic() - said[0] >= 10:
            said[0] = time.monotonic()
            say(progress.line())

    for repo, kind, revision in targets:
        prefetch(repo, report, repo_type=kind, revision=revision, cache_dir=config.cache_dir,
                 token=config.hf_hub_token)


def _claim_run_dir(config: TrainConfig, run_dir: Path, lock: RunLock) -> tuple[str, Any]:
    """Rank 0: take the lock and pick the checkpoint; ("ok", (resume, note)), or ("locked"/"config", message)."""
    try:
        lock.acquire()
    except RunLocked as exc:
        return "locked", str(exc)
    try:
        resume = _prepare_run_dir(config, run_dir)
        note = resume_note(resume, world_size(), strategy_of(config).name) if resume else None
    except ConfigError as exc:
        lock.release()
        return "config", str(exc)
    return "ok", (resume, note)


def _journal_failure(exc: Exception, run_dir: Path, events: EventWriter | NullEvents, main: bool) -> None:
    """Record a failed run: the traceback in error.log, one clear line in the journal. A full disk may
    refuse either write; the original error is what propagates."""
    trace = run_dir / ("error.log" if main else f"error-rank{rank()}.log")
    fields: dict[str, Any] = {}
    with contextlib.suppress(OSError):
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        fields["traceback_file"] = str(trace)
    message = explain(exc) or f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    with contextlib.suppress(OSError):
        events.emit("error", message=message, **fields)


def _prepare_run_dir(config: TrainConfig, run_dir: Path) -> str | None:
    """Wipe on overwrite, refuse to clobber a finished run, and pick the checkpoint to resume from."""
    if config.overwrite_output_dir:
        for path in run_dir.glob("checkpoint-*"):
            shutil.rmtree(path, ignore_errors=True)
        for name in (EVENTS_FILE, "trainer_log.jsonl", "error.log"):
            (run_dir / name).unlink(missing_ok=True)
    if isinstance(config.resume_from_checkpoint, str) and config.resume_from_checkpoint.lower() not in ("true",):
        if not Path(config.resume_from_checkpoint).is_dir():
            raise ConfigError(f"resume_from_checkpoint: no checkpoint folder at {config.resume_from_checkpoint} "
                              "— point at a checkpoint-N folder")
        return config.resume_from_checkpoint
    found = last_checkpoint(run_dir)
    if found is None and config.resume_from_checkpoint:
        raise ConfigError(f"resume_from_checkpoint: {run_dir} has no checkpoint yet — start without it")
    if journal_status(run_dir) == "done" and not config.resume_from_checkpoint:
        raise ConfigError(f"output_dir: {run_dir} already holds a finished run — "
                          "set overwrite_output_dir: true, or choose another output_dir")
    return str(found) if found else None


def _train(config: TrainConfig, run_dir: Path, resume: str | None, events: EventWriter | NullEvents,
           echo: Echo | None, args: Any, stop: GracefulStop) -> dict[str, Any]:
    from ..models import count_parameters, load_tokenizer
    from ..config.resolve import attention_layout, attn_implementation
    from ..models.loader import compute_dtype
    from ..stages import stage_module
    from transformers import PrinterCallback, set_seed

    from ..allocator import allocator_in_use
    from ..sizing import measured_peak_gb as peak_memory_gb
    from ..models.liger import liger_note
    from ..models.llama_pro import check_llama_pro
    from .optimizers import check_world_size, install_optimizer, require_optimizer_packages

    say = echo or (lambda line: None)
    if is_main_process():
        save_config(config, run_dir / CONFIG_FILE)
    for warning in config_warnings(config):
        events.emit("warning", message=warning)
        say(f"warning: {warning}")
    if not config.do_train:
        from ..evaluate.jobs import run_without_training

        return run_without_training(config, run_dir, events, echo)
    t_start = time.time()
    stage = stage_module(config.stage)
    if config.use_unsloth:
        from ..models.unsloth import require_unsloth

        require_unsloth(config)
    require_optimizer_packages(config)
    check_world_size(config, int(os.environ.get("WORLD_SIZE", "1")))
    check_llama_pro(config)
    if note := liger_note(config):
        events.emit("warning", message=note)
        say(f"note: {note}")
    _prefetch_hub(config, events, say)
    say(f"Loading tokenizer and data for {config.model_name_or_path} …")
    tokenizer = load_tokenizer(config)
    data = stage.load_data(config, tokenizer)
    for warning in data.report.warnings():
        events.emit("warning", message=warning)
        say(f"warning: {warning}")
    say("Loading model …")
    set_seed(config.seed)  # adapter initialisation is part of what the seed fixes
    gradient_checkpointing = not config.disable_gradient_checkpointing
    trainer = stage.build_trainer(config, tokenizer, data, args)
    optimizer_note = install_optimizer(trainer, config, resume)
    trainable, total = count_parameters(trainer.model)
    trainer.remove_callback(PrinterCallback)  # the journal callback prints its own progress lines
    trainer.add_callback(RanksCallback(stop, events))
    if is_main_process():
        trainer.add_callback(JournalCallback(events, run_dir, peak_memory_gb, echo))
    plan = {
        "finetuning_type": config.finetuning_type, "dataset": config.dataset, "trainable_params": trainable,
        "total_params": total, "dtype": str(compute_dtype(config)).replace("torch.", ""),
        "attn": attn_implementation(config), "attention_layout": attention_layout(config),
        "gradient_checkpointing": gradient_checkpointing,
        "loss": "chunked" if getattr(trainer, "chunked_loss", False) else "full logits",
        "recompute": ("layers" if gradient_checkpointing else
                      "mlp" if getattr(trainer, "mlp_recompute", False) else "none"),
        "allocator": allocator_in_use(),
        "device": "cuda" if torch.cuda.is_available() and not config.use_cpu else "cpu",
        "batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "packing": config.packing,
        "neat_packing": config.neat_packing, "cutoff_len": config.cutoff_len, "data": data.report.to_dict(),
        "resume_from": resume, "optimizer": _optimizer_name(config), "world_size": world_size(),
        "strategy": strategy_of(config).name,
        "nnodes": int(os.environ.get("NNODES", os.environ.get("GROUP_WORLD_SIZE", "1")) or 1),
    }
    events.emit("start", stage=config.stage, model=config.model_name_or_path, output_dir=str(run_dir),
                num_examples=_len(data.train), max_steps=_planned_steps(config, data.train), plan=plan,
                estimate_gb=_estimate_gb(config, data.report.lengths), resolved=resolved_values(config),
                pid=os.getpid())
    if optimizer_note:
        events.emit("warning", message=optimizer_note)
        say(f"warning: {optimizer_note}")
    say(f"Training {trainable:,} of {total:,} parameters on {_len(data.train)} examples"
        + (f", resuming from {resume}" if resume else ""))
    pissa = config.pissa_convert and config.pissa_init and is_main_process()
    if pissa and not resume:
        save_pissa_initial(trainer.model, run_dir)
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(run_dir))  # collective under FSDP/DeepSpeed; written by rank 0
    trainer.save_state()
    if pissa:
        save_pissa_converted(trainer.model, run_dir)
    if is_main_process():
        tokenizer.save_pretrained(str(run_dir))
    metrics = dict(result.metrics)
    runtime = max(metrics.get("train_runtime", time.time() - t_start), 1e-9)
    tokens = trainer.state.num_input_tokens_seen
    padded = getattr(trainer, "padded_tokens", 0)  # counted by the pt/sft trainer only
    metrics.update(num_real_tokens=tokens, real_tokens_per_s=round(tokens / runtime, 2) if not resume else None,
                   padding_share=round(1 - tokens / padded, 4) if padded else None,
                   peak_memory_gb=round(peak_memory_gb(), 3))
    trainer.save_metrics("train", {k: v for k, v in metrics.items() if v is not None})
    if config.do_eval or config.do_predict:
        from ..evaluate.jobs import evaluate_and_predict

        metrics.update(evaluate_and_predict(config, run_dir, events, echo, trainer.model, tokenizer,
                                            getattr(data, "template", None), trainer))
    if config.plot_loss and is_main_process():
        from .plots import plot_metrics

        plot_metrics(trainer.state.log_history, run_dir)
    status = "stopped" if stop.requested else "done"
    done = events.emit("done", status=status, step=trainer.state.global_step, max_steps=trainer.state.max_steps,
                       train_loss=metrics.get("train_loss"), runtime_s=round(runtime, 2), output=str(run_dir),
                       metrics=metrics)
    say(f"{'Stopped' if stop.requested else 'Done'} at step {trainer.state.global_step}: {run_dir}")
    return done


def _optimizer_name(config: TrainConfig) -> str:
    from .optimizers import chosen_optimizer

    key = chosen_optimizer(config)
    return key.removeprefix("use_") + (f" ({config.badam_mode})" if key == "use_badam" else "") if key else config.optim


def config_warnings(config: TrainConfig) -> list[str]:
    """Keys accepted with no effect here, and keys that cannot act on this machine or model (a note each)."""
    out = [f"{key}: accepted for LLaMA-Factory compatibility, no effect in lmf-tui — remove it to silence this"
           for key in config.ignored_keys]
    if config.use_unsloth_gc and not config.use_unsloth:
        why = "unsloth is not installed" if importlib.util.find_spec("unsloth") is None else "use_unsloth is off"
        out.append(f"use_unsloth_gc: {why} — standard gradient checkpointing is used (unsloth's offloaded "
                   "checkpointing comes with use_unsloth: true)")
    if config.rope_scaling:
        from transformers import AutoConfig

        from ..models.loader import model_folder
        from ..models.vocab import apply_rope_scaling

        model_config = AutoConfig.from_pretrained(model_folder(config), revision=config.model_revision,
                                                  cache_dir=config.cache_dir, token=config.hf_hub_token,
                                                  trust_remote_code=config.trust_remote_code)
        if note := apply_rope_scaling(model_config, config):
            out.append(note)
    return out


def _len(dataset: Any) -> int | None:
    try:
        return len(dataset)
    except TypeError:
        return None


def _planned_steps(config: TrainConfig, dataset: Any) -> int | None:
    if config.max_steps > 0:
        return config.max_steps
    n = _len(dataset)
    if n is None:
        return None
    if config.stage == "grpo":  # every prompt is sampled num_generations times
        n *= config.num_generations
    world = int(os.environ.get("WORLD_SIZE", "1"))
    batches = math.ceil(n / (config.per_device_train_batch_size * world))
    return max(1, batches // config.gradient_accumulation_steps) * math.ceil(config.num_train_epochs)


def _estimate_gb(config: TrainConfig, lengths: list[int] | None = None) -> float | None:
    """The sizing estimator's peak for this config on this device and data, when it can read the model's shape."""
    try:
        from ..sizing import estimate_memory, read_model_shape

        shape = read_model_shape(config.model_name_or_path, config.gguf_file)
        on_gpu = torch.cuda.is_available() and not config.use_cpu
        return round(estimate_memory(config, shape, gpus=world_size(), device="cuda" if on_gpu else "cpu",
                                     lengths=lengths).peak_gb, 3)
    except Exception:  # the estimate is advisory; a run never fails for it
        return None
