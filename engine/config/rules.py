"""Cross-field rules, checked before any model or data is loaded.

Each rule returns a Problem naming the fields and the fix, or None. The CLI and the TUI's forms
call `check_config`, so both print the same words.
"""

from __future__ import annotations

from typing import Callable, Literal

from .errors import Problem
from .paths import check_paths
from .schema import TrainConfig

Purpose = Literal["any", "train", "export", "chat"]
Rule = Callable[[TrainConfig], Problem | None]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    """Register a cross-field rule."""
    RULES.append(fn)
    return fn


def check_config(config: TrainConfig, purpose: Purpose = "any") -> list[Problem]:
    """Every broken rule of this config, for a job of the given purpose."""
    if purpose == "train" and (other := _not_a_training_config(config)) is not None:
        return [other]
    problems = [p for fn in RULES if (p := fn(config)) is not None]
    if purpose == "train":
        problems += check_paths(config)
    if config.deepspeed or config.fsdp or config.fsdp_config:
        from engine.distributed.strategy import strategy_problems

        problems += strategy_problems(config)
    return _required(config, purpose) + problems


def _required(c: TrainConfig, purpose: Purpose) -> list[Problem]:
    need: dict[str, str] = {}
    if purpose in ("train", "export", "chat"):
        need["model_name_or_path"] = "set it to a hub id, a local folder or a .gguf file"
    if purpose == "train":
        need["output_dir"] = "set the folder where the run is written"
        if c.do_train:
            need["dataset"] = "name a data set from dataset_info.json in dataset_dir"
        if not (c.do_train or c.do_eval or c.do_predict):
            return [Problem(("do_train",), "the config does nothing: do_train, do_eval and do_predict are all "
                                           "false (do_train defaults to false, as in LLaMA-Factory)",
                            "set do_train: true to train")] + _missing(c, need)
    if purpose == "export":
        need["export_dir"] = "set the folder the merged model is written to"
    return _missing(c, need)


def _not_a_training_config(c: TrainConfig) -> Problem | None:
    """A merge/export or an inference file given to `train` (no do_* key, no data set): what to run instead."""
    if c.do_train or c.do_eval or c.do_predict or c.dataset or c.eval_dataset:
        return None
    if c.export_dir:
        return Problem((), "this is a merge/export config (export_dir, no do_train), not a training config",
                       "run `lmf-tui export` with it")
    if c.model_name_or_path and not c.output_dir:
        return Problem((), "this is an inference config (a model, no data set, no output_dir), not a training "
                           "config", "run `lmf-tui chat` with it")
    return None


def _missing(c: TrainConfig, need: dict[str, str]) -> list[Problem]:
    return [Problem((k,), "is required", fix) for k, fix in need.items() if not getattr(c, k)]


@rule
def _quantization_needs_adapter(c: TrainConfig) -> Problem | None:
    if c.quantization_bit and c.finetuning_type not in ("lora", "oft"):
        return Problem(("quantization_bit", "finetuning_type"),
                       f"a quantized base can only be trained with lora or oft, not {c.finetuning_type}",
                       "set finetuning_type: lora, or remove quantization_bit")


@rule
def _lora_variants_need_lora(c: TrainConfig) -> Problem | None:
    used = [k for k in ("use_dora", "use_rslora", "pissa_init") if getattr(c, k)]
    used += ["loraplus_lr_ratio"] if c.loraplus_lr_ratio else []
    if used and c.finetuning_type != "lora":
        return Problem((*used, "finetuning_type"), f"{', '.join(used)} only apply to LoRA",
                       "set finetuning_type: lora, or turn them off")


@rule
def _pissa_not_quantized(c: TrainConfig) -> Problem | None:
    if c.pissa_init and c.quantization_bit:
        return Problem(("pissa_init", "quantization_bit"), "PiSSA cannot initialise from a quantized base",
                       "turn pissa_init off, or remove quantization_bit")


@rule
def _pissa_convert_needs_pissa(c: TrainConfig) -> Problem | None:
    if c.pissa_convert and not c.pissa_init:
        return Problem(("pissa_convert", "pissa_init"), "converts a PiSSA adapter, and pissa_init is off",
                       "set pissa_init: true, or remove pissa_convert")


@rule
def _scratch_not_quantized(c: TrainConfig) -> Problem | None:
    if c.train_from_scratch and c.quantization_bit:
        return Problem(("train_from_scratch", "quantization_bit"), "random weights cannot be loaded quantized",
                       "remove quantization_bit")


@rule
def _dora_not_with_pissa(c: TrainConfig) -> Problem | None:
    if c.use_dora and c.pissa_init:
        return Problem(("use_dora", "pissa_init"), "DoRA and PiSSA initialisation cannot be combined",
                       "keep one of them")


@rule
def _prompt_masking_exclusive(c: TrainConfig) -> Problem | None:
    if c.train_on_prompt and c.mask_history:
        return Problem(("train_on_prompt", "mask_history"), "cannot both be on",
                       "train_on_prompt trains every token; mask_history only the last answer: keep one")


@rule
def _neat_packing_needs_packing(c: TrainConfig) -> Problem | None:
    if c.neat_packing and c.packing is False:
        return Problem(("neat_packing", "packing"), "neat_packing is a kind of packing",
                       "set packing: true, or turn neat_packing off")


@rule
def _packing_stages(c: TrainConfig) -> Problem | None:
    if (c.packing or c.neat_packing) and c.stage not in ("pt", "sft"):
        return Problem(("packing", "stage"), f"packing works for pt and sft, not {c.stage}",
                       "turn packing and neat_packing off")


@rule
def _mask_history_sft(c: TrainConfig) -> Problem | None:
    if c.mask_history and c.stage != "sft":
        return Problem(("mask_history", "stage"), "mask_history applies to sft only", "turn mask_history off")


@rule
def _val_or_eval_dataset(c: TrainConfig) -> Problem | None:
    if c.val_size and c.eval_dataset:
        return Problem(("val_size", "eval_dataset"), "cannot both be set",
                       "hold out rows with val_size, or name an eval_dataset, not both")


@rule
def _val_size_whole_when_large(c: TrainConfig) -> Problem | None:
    if c.val_size >= 1 and c.val_size != int(c.val_size):
        return Problem(("val_size",), "a value of 1 or more is a row count and must be whole",
                       "use a share below 1 (e.g. 0.1) or a whole count (e.g. 100)")
    if c.streaming and 0 < c.val_size < 1:
        return Problem(("val_size", "streaming"), "a streamed data set has no length to take a share of",
                       "give val_size as a row count (e.g. 100)")


@rule
def _streaming_needs_max_steps(c: TrainConfig) -> Problem | None:
    if c.streaming and c.max_steps <= 0:
        return Problem(("streaming", "max_steps"), "a streamed data set has no length, so epochs cannot end it",
                       "set max_steps (e.g. 1000)")


@rule
def _one_mixed_precision(c: TrainConfig) -> Problem | None:
    if c.bf16 and c.fp16:
        return Problem(("bf16", "fp16"), "cannot both be on", "keep one: bf16 on Ampere or newer, fp16 before")
    if c.pure_bf16 and c.fp16:
        return Problem(("pure_bf16", "fp16"), "cannot both be on", "turn fp16 off")


@rule
def _adapters_need_adapter_method(c: TrainConfig) -> Problem | None:
    if c.adapter_name_or_path and c.finetuning_type not in ("lora", "oft"):
        return Problem(("adapter_name_or_path", "finetuning_type"),
                       f"adapters load only with lora or oft, not {c.finetuning_type}",
                       "set finetuning_type: lora, or remove adapter_name_or_path")


@rule
def _new_adapter_not_quantized(c: TrainConfig) -> Problem | None:
    if c.create_new_adapter and c.quantization_bit:
        return Problem(("create_new_adapter", "quantization_bit"),
                       "a new adapter cannot be stacked on a quantized base", "turn create_new_adapter off")


@rule
def _oft_size(c: TrainConfig) -> Problem | None:
    if c.finetuning_type == "oft" and (c.oft_rank == 0) == (c.oft_block_size == 0):
        return Problem(("oft_rank", "oft_block_size"), "exactly one of them must be set (the other 0)",
                       "e.g. oft_rank: 0 with oft_block_size: 32")


@rule
def _eval_needs_data(c: TrainConfig) -> Problem | None:
    if c.eval_strategy != "no" and not (c.val_size or c.eval_dataset):
        return Problem(("eval_strategy", "val_size", "eval_dataset"), "evaluation needs evaluation data",
                       "set val_size (e.g. 0.1) or eval_dataset, or eval_strategy: no")


@rule
def _best_model_needs_eval(c: TrainConfig) -> Problem | None:
    if c.load_best_model_at_end and c.eval_strategy == "no":
        return Problem(("load_best_model_at_end", "eval_strategy"), "the best model is chosen by evaluation",
                       "set eval_strategy: steps (with save_strategy the same), or turn it off")


@rule
def _predict_needs_eval_dataset(c: TrainConfig) -> Problem | None:
    if (c.do_predict or c.do_eval) and not (c.eval_dataset or c.val_size):
        key = "do_predict" if c.do_predict else "do_eval"
        return Problem((key, "eval_dataset", "val_size"), "evaluation and prediction run on evaluation rows",
                       "name an eval_dataset, or hold out rows of dataset with val_size")


@rule
def _generate_only_sft(c: TrainConfig) -> Problem | None:
    if c.stage != "sft" and (c.predict_with_generate or c.do_predict or c.compute_accuracy):
        key = "predict_with_generate" if c.predict_with_generate else "do_predict" if c.do_predict else \
            "compute_accuracy"
        return Problem((key, "stage"), "generation, prediction and token accuracy apply to sft only",
                       f"turn {key} off, or set stage: sft")
    if c.do_predict and not c.predict_with_generate:
        return Problem(("do_predict", "predict_with_generate"), "predictions are generated text",
                       "set predict_with_generate: true")
    if c.predict_with_generate and c.compute_accuracy:
        return Problem(("predict_with_generate", "compute_accuracy"), "cannot both be set (as in LLaMA-Factory)",
                       "use compute_accuracy for teacher-forced token accuracy, or predict_with_generate for "
                       "BLEU/ROUGE of generated text")
    if c.predict_with_generate and c.eval_strategy != "no":
        return Problem(("predict_with_generate", "eval_strategy"), "evaluation during training does not generate",
                       "set eval_strategy: no (do_eval/do_predict generate after training)")


@rule
def _evaluate_alone_pt_sft(c: TrainConfig) -> Problem | None:
    if not c.do_train and (c.do_eval or c.do_predict) and c.stage not in ("pt", "sft"):
        return Problem(("do_train", "stage"), f"evaluation without training runs for pt and sft, not {c.stage}",
                       "set do_train: true to evaluate after training, or stage: sft")


@rule
def _resume_not_overwrite(c: TrainConfig) -> Problem | None:
    if c.resume_from_checkpoint and c.overwrite_output_dir:
        return Problem(("resume_from_checkpoint", "overwrite_output_dir"), "cannot resume into a wiped folder",
                       "turn overwrite_output_dir off to resume")


@rule
def _label_smoothing_sigmoid(c: TrainConfig) -> Problem | None:
    if c.dpo_label_smoothing and c.pref_loss != "sigmoid":
        return Problem(("dpo_label_smoothing", "pref_loss"), "label smoothing applies to the sigmoid loss only",
                       "set pref_loss: sigmoid, or dpo_label_smoothing: 0")


@rule
def _reference_free_losses(c: TrainConfig) -> Problem | None:
    if c.stage == "dpo" and c.pref_loss in ("orpo", "simpo") and c.ref_model:
        return Problem(("pref_loss", "ref_model"), f"{c.pref_loss} uses no reference model",
                       "remove ref_model, or use pref_loss: sigmoid")


@rule
def _ppo_needs_reward_model(c: TrainConfig) -> Problem | None:
    if c.stage == "ppo" and not c.reward_model:
        return Problem(("stage", "reward_model"), "PPO needs a reward model",
                       "train one with stage: rm, then set reward_model to its output_dir")
    if c.stage == "grpo" and not (c.reward_model or c.reward_funcs):
        return Problem(("stage", "reward_model", "reward_funcs"), "GRPO needs a reward",
                       "set reward_model, or reward_funcs: module:function")


@rule
def _lora_reward_model_needs_lora(c: TrainConfig) -> Problem | None:
    if c.stage == "ppo" and c.reward_model_type == "lora" and c.finetuning_type != "lora":
        return Problem(("reward_model_type", "finetuning_type"), "a LoRA reward model needs LoRA training",
                       "set finetuning_type: lora, or reward_model_type: full")


@rule
def _kto_pair_is_a_stage(c: TrainConfig) -> Problem | None:
    if c.stage == "dpo" and c.pref_loss == "kto_pair":
        return Problem(("pref_loss", "stage"), "kto_pair is no longer a DPO loss (TRL dropped it)",
                       "use stage: kto on data with a kto_tag column, or pref_loss: sigmoid")


@rule
def _ppo_one_rollout_per_step(c: TrainConfig) -> Problem | None:
    if c.stage == "ppo" and c.gradient_accumulation_steps > 1:
        return Problem(("stage", "gradient_accumulation_steps"), "a PPO step is one rollout batch",
                       "set gradient_accumulation_steps: 1 and raise per_device_train_batch_size instead")
    if c.stage == "ppo" and c.per_device_train_batch_size % c.ppo_buffer_size:
        return Problem(("ppo_buffer_size", "per_device_train_batch_size"),
                       f"the rollout batch of {c.per_device_train_batch_size} does not split into "
                       f"{c.ppo_buffer_size} mini-batches", "make per_device_train_batch_size a multiple of it")


@rule
def _online_rl_no_eval(c: TrainConfig) -> Problem | None:
    if c.stage == "ppo" and (c.eval_strategy != "no" or c.do_eval):
        return Problem(("stage", "eval_strategy", "do_eval"), "PPO has no evaluation loop",
                       "set eval_strategy: no and do_eval: false")


@rule
def _grpo_groups_fit_batch(c: TrainConfig) -> Problem | None:
    if c.stage != "grpo":
        return None
    batch = c.per_device_train_batch_size * c.gradient_accumulation_steps
    if batch % c.num_generations:
        return Problem(("num_generations", "per_device_train_batch_size", "gradient_accumulation_steps"),
                       f"a batch of {batch} answers does not hold whole groups of {c.num_generations}",
                       "make per_device_train_batch_size x gradient_accumulation_steps a multiple of num_generations")
    if c.temperature == 0:
        return Problem(("temperature", "stage"), "GRPO compares sampled answers; greedy decoding gives one",
                       "set temperature above 0 (e.g. 1.0)")


@rule
def _reward_funcs_form(c: TrainConfig) -> Problem | None:
    if c.reward_funcs and c.stage != "grpo":
        return Problem(("reward_funcs", "stage"), "Python reward functions are used by GRPO only",
                       "set stage: grpo, or remove reward_funcs")
    specs = [s.strip() for s in (c.reward_funcs or "").split(",") if s.strip()]
    bad = [s for s in specs if not all(s.rpartition(":")[::2])]
    if bad:
        return Problem(("reward_funcs",), f"'{bad[0]}' is not module:function",
                       "write e.g. reward_funcs: my_rewards:length_penalty (or path/to/file.py:fn)")


@rule
def _reward_model_type_supported(c: TrainConfig) -> Problem | None:
    if c.stage in ("ppo", "grpo") and c.reward_model and c.reward_model_type == "api":
        return Problem(("reward_model_type",), "API reward models are not supported",
                       "use reward_model_type: lora or full, or reward_funcs for GRPO")


@rule
def _sft_term_where_it_exists(c: TrainConfig) -> Problem | None:
    if c.pref_ftx and c.stage != "dpo":
        return Problem(("pref_ftx", "stage"), f"the added SFT term applies to stage dpo, not {c.stage}",
                       "set pref_ftx: 0")
    if c.pref_ftx and c.pref_loss == "orpo":
        return Problem(("pref_ftx", "pref_loss"), "ORPO always trains its own SFT term", "set pref_ftx: 0")


@rule
def _ref_model_stages(c: TrainConfig) -> Problem | None:
    if c.ref_model and c.stage not in ("dpo", "kto", "ppo"):
        return Problem(("ref_model", "stage"), f"a reference model is used by dpo, kto and ppo, not {c.stage}",
                       "remove ref_model")


@rule
def _aligned_stages_not_streamed(c: TrainConfig) -> Problem | None:
    if c.streaming and c.stage not in ("pt", "sft"):
        return Problem(("streaming", "stage"), f"stage {c.stage} reads its data set whole",
                       "set streaming: false (use max_samples to bound a large set)")


@rule
def _loraplus_pt_sft(c: TrainConfig) -> Problem | None:
    if c.loraplus_lr_ratio and c.stage not in ("pt", "sft"):
        return Problem(("loraplus_lr_ratio", "stage"), f"LoRA+ is built for pt and sft, not {c.stage}",
                       "remove loraplus_lr_ratio")


@rule
def _gptq_export(c: TrainConfig) -> Problem | None:
    if c.export_quantization_bit:
        return Problem(("export_quantization_bit",), "GPTQ export is not supported",
                       "use export_gguf: [q4_k_m] for a quantized model")


@rule
def _unsupported_quantization_method(c: TrainConfig) -> Problem | None:
    if c.quantization_bit == 8 and c.quantization_type != "nf4":
        return Problem(("quantization_type", "quantization_bit"), "the 4-bit type applies to 4 bits only",
                       "remove quantization_type, or set quantization_bit: 4")


OPTIMIZER_SWITCHES = ("use_galore", "use_apollo", "use_badam", "use_adam_mini", "use_muon")
GALORE_BASES = ("adamw_torch", "adamw_8bit", "adamw_bnb_8bit", "paged_adamw_8bit", "adafactor")


@rule
def _one_optimizer(c: TrainConfig) -> Problem | None:
    used = [k for k in OPTIMIZER_SWITCHES if getattr(c, k)] + (["loraplus_lr_ratio"] if c.loraplus_lr_ratio else [])
    if len(used) > 1:
        return Problem(tuple(used), f"{' and '.join(used)} each choose the optimizer", "keep one of them")


@rule
def _low_rank_optimizers_train_weights(c: TrainConfig) -> Problem | None:
    used = [k for k in ("use_galore", "use_apollo", "use_badam") if getattr(c, k)]
    if used and c.finetuning_type in ("lora", "oft"):
        return Problem((used[0], "finetuning_type"), f"{used[0]} optimizes the model's own weights, not "
                       f"{c.finetuning_type} adapters", "set finetuning_type: full (or freeze), or turn it off")


@rule
def _layerwise_without_accumulation(c: TrainConfig) -> Problem | None:
    for name in ("galore", "apollo"):
        if getattr(c, f"use_{name}") and getattr(c, f"{name}_layerwise") and c.gradient_accumulation_steps > 1:
            return Problem((f"{name}_layerwise", "gradient_accumulation_steps"), "a layer-wise optimizer steps "
                           "during backward, so gradients cannot be accumulated",
                           "set gradient_accumulation_steps: 1 (raise the batch size instead), or turn it off")


@rule
def _low_rank_base_optimizer(c: TrainConfig) -> Problem | None:
    if c.use_galore and c.optim not in GALORE_BASES:
        return Problem(("use_galore", "optim"), f"GaLore has no {c.optim} variant",
                       "set optim: adamw_torch, adamw_8bit or adafactor")
    if c.use_apollo and c.optim != "adamw_torch":
        return Problem(("use_apollo", "optim"), f"APOLLO has no {c.optim} variant", "set optim: adamw_torch")


@rule
def _optimizers_and_deepspeed(c: TrainConfig) -> Problem | None:
    if c.deepspeed and (c.use_galore or c.use_apollo):
        return Problem(("deepspeed", "use_galore" if c.use_galore else "use_apollo"),
                       "GaLore and APOLLO do not run under DeepSpeed", "remove deepspeed (they fit one GPU)")
    if c.deepspeed and c.use_badam and c.badam_mode == "ratio":
        return Problem(("deepspeed", "badam_mode"), "ratio-wise BAdam does not run distributed",
                       "set badam_mode: layer (with DeepSpeed ZeRO-3), or remove deepspeed")


@rule
def _badam_block_settings(c: TrainConfig) -> Problem | None:
    if c.use_badam and c.badam_mode == "layer" and not c.badam_switch_mode:
        return Problem(("badam_switch_mode",), "layer-wise BAdam needs an order of blocks",
                       "set badam_switch_mode: ascending")
    if c.use_badam and c.badam_switch_interval is not None and c.badam_switch_interval == 0:
        return Problem(("badam_switch_interval",), "must be a step count, or -1 to keep one block",
                       "e.g. badam_switch_interval: 50")


@rule
def _llama_pro_methods(c: TrainConfig) -> Problem | None:
    if c.use_llama_pro and c.finetuning_type not in ("freeze", "lora"):
        return Problem(("use_llama_pro", "finetuning_type"), "LLaMA Pro trains the expanded blocks with freeze or lora",
                       "set finetuning_type: freeze (or lora)")
    if c.use_llama_pro and c.freeze_trainable_layers <= 0:
        return Problem(("use_llama_pro", "freeze_trainable_layers"), "LLaMA Pro needs the number of added blocks",
                       "set freeze_trainable_layers to the num_expand given to `lmf-tui expand` (e.g. 8)")


@rule
def _dft_loss_sft(c: TrainConfig) -> Problem | None:
    if c.use_dft_loss and c.stage != "sft":
        return Problem(("use_dft_loss", "stage"), f"the DFT loss replaces the SFT loss, not the {c.stage} loss",
                       "set stage: sft, or turn use_dft_loss off")
