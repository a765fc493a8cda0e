"""The one config schema: LLaMA-Factory's YAML keys with type, default, help and form group.

Everything else (YAML load/save, `key=value` overrides, validation, the TUI forms) reads this.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

GROUPS = (
    "Model", "Data", "Method", "LoRA", "Freeze", "OFT", "Quantization",
    "Preference", "Training", "Optimizer", "Evaluation", "Output", "Export", "Generation", "Advanced",
)

Stage = Literal["pt", "sft", "rm", "ppo", "dpo", "kto", "grpo"]
FinetuningType = Literal["lora", "freeze", "full", "oft"]


def field(default: Any, group: str, help: str, **kw: Any) -> Any:
    """A schema field with its form group and one-line help text."""
    assert group in GROUPS, group
    return Field(default, description=help, json_schema_extra={"group": group}, **kw)


class TrainConfig(BaseModel):
    """A training, export or chat job, keyed exactly as LLaMA-Factory's YAML files are."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False, protected_namespaces=())
    _ignored: dict[str, Any] = PrivateAttr(default_factory=dict)  # LLaMA-Factory keys accepted with no effect

    # --- Model -------------------------------------------------------------------------------
    model_name_or_path: str | None = field(
        None, "Model", "Hub id, local directory, .gguf file, or embedded:smollm2-135m-instruct.")
    adapter_name_or_path: str | None = field(
        None, "Model", "LoRA/OFT adapter folder(s) to load on the base, comma-separated.")
    gguf_file: str | None = field(None, "Model", "GGUF file name inside model_name_or_path.")
    model_revision: str = field("main", "Model", "Branch, tag or commit of the hub model.")
    cache_dir: str | None = field(None, "Model", "Where hub downloads are cached.")
    hf_hub_token: str | None = field(
        None, "Model", "Token for gated hub models; empty = $HF_TOKEN or `hf auth login`. Never saved (***).")
    trust_remote_code: bool = field(False, "Model", "Run the model repository's own Python code.")
    template: str | None = field(
        None, "Model", "Chat template: the tokenizer's own when empty, or a name (chatml, qwen3, llama3…).")
    flash_attn: Literal["auto", "disabled", "sdpa", "fa2", "fa3"] = field(
        "auto", "Model", "Attention kernel: auto, disabled (eager), sdpa, fa2 or fa3.")
    use_unsloth: bool = field(False, "Model", "Use unsloth's fast kernels (CUDA, unsloth installed).")
    disable_gradient_checkpointing: bool | None = field(
        None, "Model", "Turn gradient checkpointing off; empty = off on the CPU, on on a GPU.")
    infer_dtype: Literal["auto", "float16", "bfloat16", "float32"] = field(
        "auto", "Model", "Weights dtype when not training in bf16/fp16.")
    default_system: str | None = field(None, "Model", "System prompt used when a row has none.")
    enable_thinking: bool = field(True, "Model", "Keep reasoning blocks for thinking templates.")
    new_special_tokens: str | None = field(
        None, "Model", "Special tokens added to the tokenizer, comma-separated (the embeddings grow and train).")
    resize_vocab: bool = field(
        False, "Model", "Resize the embeddings to the tokenizer and train them (on with new_special_tokens).")
    rope_scaling: Literal["linear", "dynamic", "yarn", "llama3"] | None = field(
        None, "Model", "RoPE scaling so cutoff_len can exceed the model's context (factor from cutoff_len).")
    train_from_scratch: bool = field(False, "Model", "Start from random weights with the model's architecture.")
    use_unsloth_gc: bool = field(
        False, "Model", "unsloth's offloaded gradient checkpointing (needs unsloth; ignored with a note without).")
    enable_liger_kernel: bool = field(
        False, "Model", "Liger's fused Triton kernels for training (CUDA, liger-kernel installed; ignored on the CPU).")
    preserve_thinking: bool = field(
        False, "Model", "Keep the reasoning of earlier answers in multi-turn rows (thinking templates).")

    # --- Quantization ------------------------------------------------------------------------
    quantization_bit: Literal[4, 8] | None = field(
        None, "Quantization", "Load the base in 4 or 8 bits (QLoRA) through bitsandbytes.")
    quantization_method: Literal["bnb", "bitsandbytes"] = field(
        "bnb", "Quantization", "Quantization library (bitsandbytes).")
    quantization_type: Literal["nf4", "fp4"] = field("nf4", "Quantization", "4-bit data type.")
    double_quantization: bool = field(True, "Quantization", "Quantize the 4-bit scales too.")

    # --- Method --------------------------------------------------------------------------------
    stage: Stage = field("sft", "Method", "pt, sft, rm, ppo, dpo, kto or grpo.")
    do_train: bool = field(False, "Method", "Train; false (LLaMA-Factory's default) only evaluates or predicts.")
    finetuning_type: FinetuningType = field("lora", "Method", "lora, freeze, full or oft.")

    # --- LoRA ----------------------------------------------------------------------------------
    lora_rank: int = field(8, "LoRA", "Rank of the LoRA matrices.", ge=1)
    lora_alpha: int | None = field(None, "LoRA", "LoRA scale numerator; empty = 2 × rank.", ge=1)
    lora_dropout: float = field(0.0, "LoRA", "Dropout on the LoRA input.", ge=0.0, lt=1.0)
    lora_target: str = field("all", "LoRA", "Modules to adapt: all (every linear layer) or names, comma-separated.")
    additional_target: str | None = field(
        None, "LoRA", "Modules trained in full beside LoRA (e.g. embed_tokens,lm_head).")
    use_dora: bool = field(False, "LoRA", "Weight-decomposed LoRA (DoRA).")
    use_rslora: bool = field(False, "LoRA", "Rank-stabilised LoRA scaling.")
    pissa_init: bool = field(False, "LoRA", "Initialise LoRA from the principal singular vectors (PiSSA).")
    pissa_iter: int = field(16, "LoRA", "Fast-SVD iterations for PiSSA; -1 = exact SVD.")
    pissa_convert: bool = field(
        False, "LoRA", "Also save the PiSSA adapter converted to a plain LoRA (pissa_converted/), as LLaMA-Factory.")
    loraplus_lr_ratio: float | None = field(
        None, "LoRA", "LoRA+: learning-rate ratio of B over A (e.g. 16).", gt=0)
    create_new_adapter: bool = field(False, "LoRA", "Add a new adapter on top of adapter_name_or_path.")

    # --- Freeze --------------------------------------------------------------------------------
    freeze_trainable_layers: int = field(
        2, "Freeze", "Train the last N layers (negative: the first N).")
    freeze_trainable_modules: str = field(
        "all", "Freeze", "Modules trained in those layers: all or names (mlp, self_attn), comma-separated.")
    freeze_extra_modules: str | None = field(
        None, "Freeze", "Modules outside the layers also trained (e.g. embed_tokens).")
    use_llama_pro: bool = field(
        False, "Freeze", "LLaMA Pro: train only the freeze_trainable_layers blocks added by `lmf-tui expand` "
        "(freeze or lora).")

    # --- OFT -----------------------------------------------------------------------------------
    oft_rank: int = field(0, "OFT", "OFT rank (number of blocks); 0 = set by oft_block_size.", ge=0)
    oft_block_size: int = field(32, "OFT", "OFT block size; 0 = set by oft_rank.", ge=0)
    oft_target: str = field("all", "OFT", "Modules to adapt with OFT: all or names.")

    # --- Data ----------------------------------------------------------------------------------
    dataset: str | None = field(None, "Data", "Training data set names from dataset_info.json, comma-separated.")
    dataset_dir: str = field("data", "Data", "Folder holding dataset_info.json and the data files.")
    eval_dataset: str | None = field(None, "Data", "Evaluation data set names, comma-separated.")
    cutoff_len: int = field(2048, "Data", "Longest tokenized example; longer ones are truncated.", ge=8)
    max_samples: int | None = field(None, "Data", "Use at most this many rows of each data set.", ge=1)
    val_size: float = field(0.0, "Data", "Share (<1) or count (>=1) of rows held out for evaluation.", ge=0)
    packing: bool | None = field(
        None, "Data", "Concatenate examples into full rows (empty = on for pt, off for sft).")
    neat_packing: bool = field(False, "Data", "Pack without attention across examples.")
    padding_free: bool | None = field(
        None, "Data", "Lay each batch out as one unpadded row (same loss, no pad compute); empty = on where it "
        "is cheaper (CPU, flash attention).")
    train_on_prompt: bool = field(False, "Data", "Compute the loss on prompt tokens too.")
    mask_history: bool = field(False, "Data", "Train only the last assistant turn.")
    streaming: bool = field(False, "Data", "Stream the data set instead of loading it whole.")
    buffer_size: int = field(16384, "Data", "Shuffle buffer for streaming.", ge=1)
    mix_strategy: Literal["concat", "interleave_under", "interleave_over"] = field(
        "concat", "Data", "How several data sets are mixed.")
    interleave_probs: str | None = field(None, "Data", "Sampling probabilities when interleaving.")
    tool_format: str | None = field(None, "Data", "Tool-call format for function-calling data.")
    overwrite_cache: bool = field(False, "Data", "Re-tokenize instead of using the cache.")
    preprocessing_num_workers: int | None = field(None, "Data", "Processes for tokenization.", ge=1)
    preprocessing_batch_size: int = field(1000, "Data", "Rows per tokenization batch.", ge=1)
    tokenized_path: str | None = field(None, "Data", "Save/load the tokenized data set here.")

    # --- Preference ----------------------------------------------------------------------------
    pref_beta: float = field(0.1, "Preference", "Beta of the preference loss.", gt=0)
    pref_ftx: float = field(0.0, "Preference", "Weight of the SFT loss added to the preference loss.", ge=0)
    pref_loss: Literal["sigmoid", "hinge", "ipo", "kto_pair", "orpo", "simpo"] = field(
        "sigmoid", "Preference", "Preference loss: sigmoid (DPO), hinge, ipo, kto_pair, orpo, simpo.")
    dpo_label_smoothing: float = field(0.0, "Preference", "Robust DPO label smoothing, below 0.5 (at 0.5 the labels carry no preference).", ge=0, lt=0.5)
    kto_chosen_weight: float = field(1.0, "Preference", "KTO weight of desirable rows.", gt=0)
    kto_rejected_weight: float = field(1.0, "Preference", "KTO weight of undesirable rows.", gt=0)
    simpo_gamma: float = field(0.5, "Preference", "SimPO target reward margin.")
    ref_model: str | None = field(None, "Preference", "Reference model (empty: the frozen base).")
    ref_model_adapters: str | None = field(None, "Preference", "Adapters of the reference model.")
    ref_model_quantization_bit: Literal[4, 8] | None = field(
        None, "Preference", "Load the reference model in 4 or 8 bits.")
    reward_model: str | None = field(None, "Preference", "Reward model for PPO/GRPO (adapter or full model).")
    reward_model_adapters: str | None = field(None, "Preference", "Adapters of the reward model.")
    reward_model_type: Literal["lora", "full", "api"] = field(
        "lora", "Preference", "lora (adapter on the base), full (a model path) or api.")
    reward_funcs: str | None = field(
        None, "Preference", "GRPO: Python reward functions as module:function, comma-separated.")
    ppo_buffer_size: int = field(1, "Preference", "PPO: mini-batches per rollout buffer.", ge=1)
    ppo_epochs: int = field(4, "Preference", "PPO: optimisation epochs per rollout.", ge=1)
    ppo_score_norm: bool = field(False, "Preference", "PPO: normalise reward scores.")
    ppo_target: float = field(6.0, "Preference", "PPO: target KL for the adaptive KL controller.")
    ppo_whiten_rewards: bool = field(False, "Preference", "PPO: whiten rewards before GAE.")
    num_generations: int = field(4, "Preference", "GRPO: completions sampled per prompt.", ge=2)

    # --- Training ------------------------------------------------------------------------------
    learning_rate: float = field(5e-5, "Training", "Peak learning rate.", gt=0)
    num_train_epochs: float = field(3.0, "Training", "Passes over the data (ignored when max_steps > 0).", gt=0)
    max_steps: int = field(-1, "Training", "Stop after this many optimizer steps; -1 = by epochs.")
    per_device_train_batch_size: int = field(8, "Training", "Rows per device per step.", ge=1)
    gradient_accumulation_steps: int = field(1, "Training", "Micro-batches summed per optimizer step.", ge=1)
    lr_scheduler_type: Literal[
        "linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
        "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay",
    ] = field("linear", "Training", "Learning-rate schedule.")
    lr_scheduler_kwargs: dict[str, Any] | None = field(None, "Training", "Extra scheduler arguments.")
    warmup_ratio: float = field(0.0, "Training", "Share of steps spent warming up.", ge=0, le=1)
    warmup_steps: int = field(0, "Training", "Warm-up steps (overrides warmup_ratio).", ge=0)
    weight_decay: float = field(0.0, "Training", "AdamW weight decay.", ge=0)
    adam_beta1: float = field(0.9, "Training", "AdamW beta1.", gt=0, lt=1)
    adam_beta2: float = field(0.999, "Training", "AdamW beta2.", gt=0, lt=1)
    adam_epsilon: float = field(1e-8, "Training", "AdamW epsilon.", gt=0)
    max_grad_norm: float = field(1.0, "Training", "Clip gradients to this norm; 0 = no clipping.", ge=0)
    bf16: bool = field(False, "Training", "Train in bfloat16 mixed precision.")
    fp16: bool = field(False, "Training", "Train in float16 mixed precision.")
    pure_bf16: bool = field(False, "Training", "Keep the whole model in bfloat16 (no fp32 master weights).")
    seed: int = field(42, "Training", "Random seed for data order and initialisation.")
    group_by_length: bool = field(False, "Training", "Batch rows of similar length to pad less.")
    disable_shuffling: bool = field(False, "Training", "Read the training rows in order (no shuffling).")
    neftune_noise_alpha: float | None = field(
        None, "Training", "NEFTune: noise on the input embeddings while training (e.g. 5).", gt=0)
    dataloader_num_workers: int = field(0, "Training", "Worker processes for the data loader.", ge=0)
    use_dft_loss: bool = field(
        False, "Training", "SFT: weight each token's loss by its (detached) probability (Dynamic Fine-Tuning).")
    gradient_checkpointing_kwargs: dict[str, Any] | None = field(None, "Advanced", "Gradient checkpointing options.")
    deepspeed: str | None = field(
        None, "Advanced", "DeepSpeed ZeRO: a JSON file, or a shipped one: z0, z2, z2_offload, z3, z3_offload.")
    fsdp: str | bool | None = field(
        None, "Advanced", "FSDP2 sharding: true, or the Trainer's words (full_shard auto_wrap [offload]).")
    fsdp_config: dict[str, Any] | str | None = field(
        None, "Advanced", "FSDP options: a dict, a JSON file, or an accelerate config file (distributed_type: FSDP).")
    ddp_timeout: int = field(1800, "Advanced", "Seconds before a stuck multi-GPU collective fails.", ge=1)
    ddp_find_unused_parameters: bool | None = field(None, "Advanced", "DDP: look for unused parameters.")
    torch_compile: bool = field(False, "Advanced", "Compile the model with torch.compile.")
    tf32: bool | None = field(None, "Advanced", "Allow TF32 matmuls on Ampere+ GPUs.")
    use_cpu: bool = field(False, "Advanced", "Train on the CPU even when a GPU is present.")

    # --- Optimizer -----------------------------------------------------------------------------
    optim: str = field(
        "adamw_torch", "Optimizer", "Base optimizer (adamw_torch, adamw_8bit, paged_adamw_8bit, adafactor, sgd…).")
    use_galore: bool = field(False, "Optimizer", "GaLore: project the gradients of linear layers to low rank "
                             "(full/freeze; lmf-tui[optim]).")
    galore_target: str = field("all", "Optimizer", "GaLore modules: all (every linear layer but the output) or "
                               "names, comma-separated.")
    galore_rank: int = field(16, "Optimizer", "Rank of the GaLore gradient projection.", ge=1)
    galore_update_interval: int = field(200, "Optimizer", "Steps between GaLore projection updates.", ge=1)
    galore_scale: float = field(2.0, "Optimizer", "GaLore scaling of the projected update.", gt=0)
    galore_proj_type: Literal["std", "reverse_std", "right", "left", "full"] = field(
        "std", "Optimizer", "GaLore projection side: std, reverse_std, right, left or full.")
    galore_layerwise: bool = field(False, "Optimizer", "GaLore: step each layer during backward to save memory "
                                   "(no gradient accumulation).")
    use_apollo: bool = field(False, "Optimizer", "APOLLO: AdamW with low-rank auxiliary state for channel-wise "
                             "scaling (full/freeze; lmf-tui[optim]).")
    apollo_target: str = field("all", "Optimizer", "APOLLO modules: all (every linear layer but the output) or "
                               "names, comma-separated.")
    apollo_rank: int = field(16, "Optimizer", "Rank of the APOLLO auxiliary space.", ge=1)
    apollo_update_interval: int = field(200, "Optimizer", "Steps between APOLLO projection updates.", ge=1)
    apollo_scale: float = field(32.0, "Optimizer", "APOLLO scaling coefficient.", gt=0)
    apollo_proj: Literal["svd", "random"] = field("random", "Optimizer", "APOLLO projection: random or svd.")
    apollo_proj_type: Literal["std", "right", "left"] = field(
        "std", "Optimizer", "APOLLO projection side: std, right or left.")
    apollo_scale_type: Literal["channel", "tensor"] = field(
        "channel", "Optimizer", "APOLLO scaling granularity: channel or tensor.")
    apollo_layerwise: bool = field(False, "Optimizer", "APOLLO: step each layer during backward to save memory "
                                   "(no gradient accumulation).")
    apollo_scale_front: bool = field(False, "Optimizer", "APOLLO: apply the norm-growth limiter before scaling.")
    use_badam: bool = field(False, "Optimizer", "BAdam: Adam on one block of layers at a time (full; "
                            "lmf-tui[optim]).")
    badam_mode: Literal["layer", "ratio"] = field(
        "layer", "Optimizer", "BAdam: layer (one decoder layer at a time) or ratio (a share of every weight).")
    badam_start_block: int | None = field(None, "Optimizer", "BAdam layer mode: block to start from.", ge=0)
    badam_switch_mode: Literal["ascending", "descending", "random", "fixed"] | None = field(
        "ascending", "Optimizer", "BAdam layer mode: order of blocks: ascending, descending, random, fixed.")
    badam_switch_interval: int | None = field(
        50, "Optimizer", "BAdam layer mode: steps before the next block; -1 = never switch.")
    badam_update_ratio: float = field(0.05, "Optimizer", "BAdam ratio mode: share of each weight updated.",
                                      gt=0, le=1)
    badam_mask_mode: Literal["adjacent", "scatter"] = field(
        "adjacent", "Optimizer", "BAdam ratio mode: adjacent (a contiguous slice) or scatter (random entries).")
    badam_verbose: int = field(0, "Optimizer", "BAdam messages: 0 none, 1 blocks, 2 parameters.", ge=0, le=2)
    use_adam_mini: bool = field(False, "Optimizer", "Adam-mini: one second moment per block instead of per "
                                "weight (lmf-tui[optim]).")
    use_muon: bool = field(False, "Optimizer", "Muon (torch.optim.Muon) for 2-D hidden weights, AdamW for the "
                           "rest.")

    # --- Evaluation ----------------------------------------------------------------------------
    do_eval: bool = field(False, "Evaluation", "Evaluate after training.")
    do_predict: bool = field(
        False, "Evaluation", "Write generated_predictions.jsonl and predict_results.json for the evaluation rows.")
    eval_strategy: Literal["no", "steps", "epoch"] = field("no", "Evaluation", "When to evaluate: no, steps, epoch.")
    eval_steps: int | None = field(None, "Evaluation", "Evaluate every N steps (default: logging_steps).", ge=1)
    per_device_eval_batch_size: int = field(8, "Evaluation", "Rows per device when evaluating.", ge=1)
    predict_with_generate: bool = field(
        False, "Evaluation", "Generate answers and score them (BLEU-4, ROUGE) for do_predict and do_eval.")
    compute_accuracy: bool = field(False, "Evaluation", "Also report token accuracy when evaluating (sft).")
    load_best_model_at_end: bool = field(False, "Evaluation", "Keep the best checkpoint at the end.")
    metric_for_best_model: str | None = field(None, "Evaluation", "Metric that picks the best checkpoint.")

    # --- Output --------------------------------------------------------------------------------
    output_dir: str | None = field(None, "Output", "Run directory: config, events, checkpoints, the result.")
    overwrite_output_dir: bool = field(False, "Output", "Start afresh in a non-empty output_dir.")
    resume_from_checkpoint: str | bool | None = field(
        None, "Output", "Checkpoint folder to resume from (default: the last one in output_dir).")
    logging_steps: float = field(500, "Output", "Log metrics every N steps.", gt=0)
    save_strategy: Literal["no", "steps", "epoch", "best"] = field("steps", "Output", "When to save checkpoints.")
    save_steps: float = field(500, "Output", "Save a checkpoint every N steps.", gt=0)
    save_total_limit: int | None = field(None, "Output", "Keep at most N checkpoints.", ge=1)
    save_only_model: bool = field(False, "Output", "Checkpoints without optimizer state (cannot resume exactly).")
    plot_loss: bool = field(
        False, "Output", "Save training_loss.png (and training_eval_loss.png) in the run folder at the end.")
    report_to: str | list[str] = field("none", "Output", "Also report to: none, tensorboard, wandb, mlflow…")
    run_name: str | None = field(None, "Output", "Display name of the run.")
    logging_dir: str | None = field(None, "Output", "TensorBoard log folder.")

    # --- Export --------------------------------------------------------------------------------
    export_dir: str | None = field(None, "Export", "Folder for the merged model and exports.")
    export_size: int = field(5, "Export", "Largest safetensors shard in GB.", ge=1)
    export_device: Literal["cpu", "auto"] = field("cpu", "Export", "Device used to merge.")
    export_quantization_bit: int | None = field(None, "Export", "GPTQ export bits (not supported here).")
    export_legacy_format: bool = field(False, "Export", "Save .bin instead of .safetensors.")
    export_hub_model_id: str | None = field(None, "Export", "Push the export to this hub repository.")
    export_gguf: list[str] | None = field(
        None, "Export", "GGUF types to write: f16, bf16, q8_0, q4_k_m, q5_k_m, q6_k…")
    export_ollama: bool | None = field(None, "Export", "Write an Ollama Modelfile (default: on with GGUF).")

    # --- Generation ----------------------------------------------------------------------------
    infer_backend: Literal["huggingface", "llama.cpp", "auto"] = field(
        "auto", "Generation", "Chat backend: auto (llama.cpp for .gguf), huggingface, llama.cpp.")
    max_new_tokens: int = field(512, "Generation", "Longest answer in tokens.", ge=1)
    temperature: float = field(0.95, "Generation", "Sampling temperature; 0 = greedy.", ge=0)
    top_p: float = field(0.7, "Generation", "Nucleus sampling mass.", gt=0, le=1)
    top_k: int = field(50, "Generation", "Sample among the top K tokens.", ge=0)
    do_sample: bool = field(True, "Generation", "Sample (false: greedy).")
    repetition_penalty: float = field(1.0, "Generation", "Penalty on repeated tokens.", gt=0)
    num_beams: int = field(1, "Generation", "Beam search width for do_predict/do_eval generation (chat: 1).", ge=1)
    length_penalty: float = field(1.0, "Generation", "Beam search: exponent on the length (>1 favours longer).")
    skip_special_tokens: bool = field(True, "Generation", "Drop special tokens from generated predictions.")

    @property
    def ignored_keys(self) -> dict[str, Any]:
        """The LLaMA-Factory keys this config set that lmf-tui accepts but does not act on."""
        return dict(self._ignored)

    def dataset_names(self, which: str = "dataset") -> list[str]:
        """The comma-separated data set names of `dataset` or `eval_dataset` as a list."""
        value = getattr(self, which)
        return [name.strip() for name in (value or "").split(",") if name.strip()]


def field_groups() -> dict[str, list[str]]:
    """Field names by form group, in schema order."""
    out: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name, info in TrainConfig.model_fields.items():
        out[(info.json_schema_extra or {})["group"]].append(name)
    return out
