"""`estimate_memory()`: peak training memory per device, broken down by what holds it.

The model of memory (GB = 2**30 bytes):
- weights: frozen parameters at the compute dtype (bf16 on a GPU, fp32 on the CPU) or quantized
  (nf4 0.5 B/param + absmax scales, int8 1 B/param + row scales; embeddings, lm_head, norms stay 16-bit);
  trainable parameters of lora/oft/freeze are fp32, as LLaMA-Factory upcasts them.
- full fine-tuning in mixed precision counts ZeRO's 16 B/param: 16-bit weights and gradients, fp32
  master weights and AdamW's fp32 m and v; pure_bf16 keeps everything in bf16 (8 B/param).
- optimizer: AdamW 8 B per trainable param, 8-bit AdamW 2 B, SGD and Adafactor ~0 (paged is counted in full);
  GaLore/APOLLO, BAdam, Adam-mini and Muon as `engine.sizing.optimizers` models them.
- activations: with gradient checkpointing every layer keeps only its input and one layer is recomputed
  in full; without it every layer keeps all its saved tensors. Eager attention adds the seq² score matrix
  (for a padding-free batch, the square of all its tokens); SDPA and flash attention keep no scores (SDPA
  runs per example under padding-free batches).
- logits: batch × seq × vocab in 16-bit plus fp32 for the loss and its gradient; with the chunked loss
  (engine.config.resolve.chunked_loss) one 64 MB chunk of them and the hidden states' gradient.
- the batch: rows × cutoff_len tokens, or, when the tokenized lengths are known (a run's `start` event),
  the largest batch of the run's seeded random order: its rows side by side (padding-free) or padded
  to its longest row (padded rows).
- several GPUs divide memory as the strategy says (engine.distributed.strategy): DDP and ZeRO-0 replicate
  everything; ZeRO-1 divides the optimizer state; ZeRO-2 also the gradients and fp32 master weights;
  ZeRO-3 and FSDP2 also the weights, and every GPU holds what they gather (two blocks, or the embedding
  at the lm_head); offload moves the optimizer state and master weights (ZeRO-2) or those and the weights
  (ZeRO-3, FSDP2) to CPU RAM. Activations, logits and the runtime are per GPU whatever the strategy.
- runtime: on CUDA the context plus allocator slack (5% of what is freed and re-allocated each step);
  on the CPU the training process's own RSS before the model loads (torch, transformers, peft, TRL,
  datasets and the engine; measured 0.53 GB).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.config import TrainConfig, resolve

from .optimizers import optimizer_memory
from .params import Linear, ParamCount, count_params, layer_params
from .shape import ModelShape

GB = 2**30
CUDA_CONTEXT_GB = 0.45
ALLOCATOR_SLACK = 0.05
DYNAMIC = ("gradients", "zero3_gather", "transient", "activations", "logits")  # freed and re-allocated each step
CPU_RUNTIME_GB = 0.53
# On the CPU, peak RSS holds more than the live tensors: blocks autograd freed during the backward pass
# stay in the allocator's arenas while gradients and the loss's buffers are allocated. Measured on
# SmolLM2-135M LoRA (bench/long_rows.py, batches of 512 and 2,048 tokens), as a share of activations +
# logits: glibc's malloc 0.65-0.71; tcmalloc, which CPU training runs on where the system has it
# (engine.allocator), 0.20-0.28.
CPU_ALLOCATOR_SHARE = {"system": 0.65, "tcmalloc": 0.24}
Device = Literal["cuda", "cpu"]


@dataclass
class Estimate:
    """Peak memory of one device in GB, its parts, and the parameter counts behind it."""

    peak_gb: float
    breakdown: dict[str, float]
    params_b: float
    trainable_params: int
    gpus: int = 1
    device: Device = "cuda"
    notes: list[str] = field(default_factory=list)
    strategy: str = "ddp"
    offloaded_gb: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)  # the breakdown in bytes, unrounded

    @property
    def strategy_label(self) -> str:
        """The strategy as people say it ("DeepSpeed ZeRO-3"); one device runs no strategy."""
        from engine.distributed.strategy import STRATEGIES

        return STRATEGIES[self.strategy].label if self.gpus > 1 or self.strategy != "ddp" else "one device"

    @property
    def total_gb(self) -> float:
        """Memory over all GPUs together (peak_gb × gpus)."""
        return round(self.peak_gb * self.gpus, 2)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the run journal or JSON output."""
        return {"peak_gb": self.peak_gb, "total_gb": self.total_gb, "breakdown": self.breakdown,
                "params_b": self.params_b, "trainable_params": self.trainable_params, "gpus": self.gpus,
                "device": self.device, "notes": self.notes, "strategy": self.strategy,
                "offloaded_gb": self.offloaded_gb}


def cpu_allocator_share() -> float:
    """The allocator's share for a CPU run started from this machine (tcmalloc when the system has it)."""
    from engine.allocator import planned_allocator

    return CPU_ALLOCATOR_SHARE[planned_allocator()]


def _names(value: str | None) -> set[str]:
    return {n.strip() for n in (value or "").split(",") if n.strip()}


def target_linears(p: ParamCount, target: str) -> list[Linear]:
    """The block linears that `lora_target`/`oft_target` names ("all" = every one)."""
    names = _names(target)
    return list(p.linears) if "all" in names else [lin for lin in p.linears if lin.name in names]


def _extra_params(p: ParamCount, modules: str | None) -> int:
    """Parameters of whole modules trained beside an adapter (embed_tokens, lm_head; tied ones once)."""
    names = _names(modules)
    n = p.embeddings if "embed_tokens" in names else 0
    if "lm_head" in names:
        n += p.lm_head or (0 if "embed_tokens" in names else p.embeddings)
    return n


def trainable_params(config: TrainConfig, s: ModelShape, p: ParamCount | None = None) -> int:
    """Parameters the optimizer updates for config.finetuning_type."""
    p = p or count_params(s)
    kind = config.finetuning_type
    if kind == "full":
        return p.total
    if kind == "lora":
        linears = target_linears(p, config.lora_target)
        n = sum(lin.count * config.lora_rank * (lin.in_features + lin.out_features) for lin in linears)
        if config.use_dora:
            n += sum(lin.count * lin.out_features for lin in linears)
        return n + _extra_params(p, config.additional_target)
    if kind == "oft":
        n = 0
        for lin in target_linears(p, config.oft_target):
            block = config.oft_block_size or lin.in_features // max(config.oft_rank, 1)
            n += lin.count * (lin.in_features // block) * (block * (block - 1) // 2)
        return n
    layers = min(abs(config.freeze_trainable_layers), s.num_layers)
    modules = _names(config.freeze_trainable_modules)
    per_layer = 0
    for part, size in (("self_attn", p.attention), ("mlp", p.mlp + p.experts + p.router)):
        if "all" in modules or part in modules:
            per_layer += size / s.num_layers
    if "all" in modules:
        per_layer += (p.norms - s.hidden_size) / s.num_layers
    extra = _names(config.freeze_extra_modules)
    return int(layers * per_layer) + _extra_params(p, config.freeze_extra_modules) + s.hidden_size * ("norm" in extra)


def _quantized_bytes(p: ParamCount, bits: int, double_quant: bool, compute: int) -> float:
    """Bytes of a bitsandbytes-quantized model: block linears and experts quantized, the rest 16-bit."""
    linear = p.linear_params
    if bits == 4:  # 4-bit codes + one absmax per 64 weights (fp32, or int8 + fp32 per 256 blocks)
        per_param = 0.5 + (1 / 64 + 4 / (64 * 256) if double_quant else 4 / 64)
        quantized = linear * per_param
    else:  # LLM.int8: one byte per weight + an fp32 scale per output row
        quantized = linear + 4 * sum(lin.count * lin.out_features for lin in p.linears)
    return quantized + (p.total - linear) * compute


def gradient_checkpointing(config: TrainConfig, device: Device) -> bool:
    """On unless disabled; when unset, on for GPUs and off on the CPU (as the trainer decides)."""
    return resolve.gradient_checkpointing(config, cuda=device == "cuda")


def batch_rows(config: TrainConfig) -> int:
    """Rows in one device's micro-batch (chosen and rejected both count for dpo/kto)."""
    return config.per_device_train_batch_size * (2 if config.stage in ("dpo", "kto") else 1)


def batch_tokens(config: TrainConfig, lengths: list[int] | None = None, trials: int = 9) -> int:
    """Tokens in the largest micro-batch of the run: rows × cutoff_len without the data. With the tokenized
    lengths, the largest batch of the run's seeded random orders (the median of `trials` draws): its rows
    side by side (padding-free) or each padded to its longest (padded rows); grouped by length, the longest."""
    rows = batch_rows(config)
    if not lengths or config.stage not in ("pt", "sft") or resolve.packing(config):
        return rows * config.cutoff_len

    def size(batch: list[int]) -> int:
        return sum(batch) if config.padding_free else len(batch) * max(batch)

    if config.group_by_length:
        return size(sorted(lengths, reverse=True)[:rows])
    rng = random.Random(config.seed)
    epochs = max(1, min(math.ceil(config.num_train_epochs), 8))
    largest = []
    for _ in range(trials):
        biggest = 0
        for _ in range(epochs):
            order = list(lengths)
            rng.shuffle(order)
            biggest = max(biggest, *(size(order[i:i + rows]) for i in range(0, len(order), rows)))
        largest.append(biggest)
    return sorted(largest)[trials // 2]


def activation_bytes(config: TrainConfig, s: ModelShape, p: ParamCount, compute: int, device: Device,
                     tokens: int | None = None) -> float:
    """Saved activations at the peak of the backward pass, for one device's micro-batch of `tokens`."""
    rows = batch_rows(config)
    tokens = tokens or rows * config.cutoff_len
    h = s.hidden_size
    q_dim, kv_dim = s.num_heads * s.head_dim, s.num_kv_heads * s.head_dim
    if s.is_moe:
        mlp = 4 * (s.experts_per_token * s.moe_intermediate_size + s.shared_expert_intermediate_size)
        mlp += s.num_experts
    elif resolve.mlp_recompute(config, s.model_type, device == "cuda"):  # gate and up outputs, down's output
        mlp = 2 * s.intermediate_size + h
    else:
        mlp = 4 * s.intermediate_size
    per_token = 4 * h + 2 * q_dim + 2 * kv_dim + mlp  # norms in/out, q k v, attention out, MLP gate/up/act/product
    if config.finetuning_type == "lora":
        per_token += sum(config.lora_rank * lin.count for lin in target_linears(p, config.lora_target)) / s.num_layers
    elif config.finetuning_type == "oft":
        per_token += sum(lin.in_features * lin.count for lin in target_linears(p, config.oft_target)) / s.num_layers
    layer = tokens * per_token * compute
    if config.flash_attn == "disabled":  # eager attention keeps the seq² softmax in fp32 and its 16-bit copy;
        # a padding-free batch is one row of every example's tokens under a block-diagonal mask
        squares = tokens**2 if resolve.padding_free(config, "eager", device == "cuda") else rows * config.cutoff_len**2
        layer += s.num_heads * squares * (4 + compute)
    outside = 3 * tokens * h * compute  # embedding output, final norm in/out
    if gradient_checkpointing(config, device):
        return s.num_layers * tokens * h * compute + layer + outside
    if resolve.mlp_recompute(config, s.model_type, device == "cuda") and not s.is_moe:  # one MLP's, recomputed
        outside += 2 * tokens * s.intermediate_size * compute
    return s.num_layers * layer + outside


def logits_bytes(config: TrainConfig, s: ModelShape, compute: int, tokens: int | None = None,
                 device: Device = "cuda") -> float:
    """batch × seq × vocab logits in the compute dtype, upcast to fp32 for the loss, and the fp32 gradient;
    with the chunked loss, one chunk of them (fp32, and 16-bit copies when computing in 16 bits) and the
    hidden states' gradient the loss keeps for the backward pass."""
    if config.stage == "rm":
        return 0.0
    tokens = tokens or batch_rows(config) * config.cutoff_len
    if resolve.chunked_loss(config, s.model_type, device == "cuda"):
        rows = min(tokens, max(1, resolve.LOSS_CHUNK_BYTES // (4 * s.vocab_size)))
        return rows * s.vocab_size * (4 + (2 * compute if compute < 4 else 0)) + 2 * tokens * s.hidden_size * compute
    return tokens * s.vocab_size * (compute + 4 + 4)


# What each strategy divides over the GPUs, and what it moves to CPU RAM.
SHARDED = {
    "ddp": (), "zero0": (), "zero1": ("optimizer",),
    "zero2": ("optimizer", "master_weights", "gradients"),
    "zero2_offload": ("gradients",),
    "zero3": ("optimizer", "master_weights", "gradients", "weights", "reference_model"),
    "zero3_offload": ("gradients", "reference_model"),
    "fsdp": ("optimizer", "master_weights", "gradients", "weights", "reference_model"),
    "fsdp_offload": ("gradients", "reference_model"),
}
OFFLOADED = {"zero2_offload": ("optimizer", "master_weights"),
             "zero3_offload": ("optimizer", "master_weights", "weights"),
             "fsdp_offload": ("optimizer", "master_weights", "weights")}


def estimate_memory(config: TrainConfig, model: ModelShape | dict[str, Any], gpus: int = 1,
                    device: Device | None = None, strategy: str | None = None,
                    lengths: list[int] | None = None) -> Estimate:
    """Peak memory per device of training `model` with `config` on `gpus` devices with `strategy`.

    device: "cuda" or "cpu"; default "cpu" when config.use_cpu, else "cuda".
    strategy: ddp, zero0 … zero3_offload, fsdp, fsdp_offload; default the one the config's keys choose.
    lengths: the tokenized examples' lengths, when the data is loaded (the largest batch is then known).
    """
    s = model if isinstance(model, ModelShape) else ModelShape.from_config(model)
    device = device or ("cpu" if config.use_cpu else "cuda")
    if strategy is None:
        from engine.distributed.strategy import strategy_of

        strategy = strategy_of(config).name
    gpus = max(1, int(gpus)) if device == "cuda" else 1
    p = count_params(s)
    compute = 4 if device == "cpu" else 2
    pure = config.pure_bf16 and device == "cuda"
    trainable = trainable_params(config, s, p)
    state = 2 if pure else 4  # bytes of a trainable weight, its gradient and each optimizer state
    parts: dict[str, float] = {}
    notes: list[str] = []
    opt = optimizer_memory(config, s, p, trainable, state, compute)
    if config.finetuning_type == "full":
        parts["weights"] = p.total * compute
        if device == "cuda" and not pure and not opt.no_master_weights:
            parts["master_weights"] = p.total * 4
        parts["gradients"] = p.total * compute
    else:
        frozen = p.total - trainable if config.finetuning_type == "freeze" else p.total
        if config.quantization_bit and config.finetuning_type != "freeze":
            base = _quantized_bytes(p, config.quantization_bit, config.double_quantization, compute)
        else:
            base = frozen * compute
        parts["weights"] = base + trainable * state
        parts["gradients"] = trainable * state
    if opt.gradients is not None:
        parts["gradients"] = opt.gradients
    if opt.block_copy:
        parts["block_copy"] = opt.block_copy
    parts["optimizer"] = opt.state
    notes += opt.notes
    if config.stage in ("ppo", "grpo"):
        notes.append(f"{config.stage}: counted as SFT; generation, reward and value models are not included")
    if config.stage in ("dpo", "kto") and config.finetuning_type in ("full", "freeze") and not config.ref_model:
        parts["reference_model"] = p.total * compute
    offloaded = 0.0
    if strategy.startswith(("zero3", "fsdp")):  # a block at its stored bytes/param, gathered on every GPU
        layer = layer_params(s) * (parts["weights"] / p.total)
        parts["zero3_gather"] = max(2 * layer, p.embeddings * compute)
    for key in OFFLOADED.get(strategy, ()):
        if key in parts:
            offloaded += parts.pop(key)
    if gpus > 1:
        shared = [k for k in SHARDED[strategy] if k in parts]
        for key in shared:
            parts[key] /= gpus
        if shared:
            notes.append(f"{', '.join(k.replace('_', ' ') for k in shared)} divided over {gpus} GPUs ({strategy})")
    if offloaded:
        notes.append(f"{offloaded / GB:.1f} GB of optimizer state and weights in CPU RAM ({strategy})")
    if config.quantization_bit or config.use_dora:  # the largest weight dequantized / re-normed at once
        largest = max(lin.in_features * lin.out_features for lin in p.linears)
        parts["transient"] = largest * (compute + 4 * config.use_dora)
    tokens = batch_tokens(config, lengths)
    parts["activations"] = activation_bytes(config, s, p, compute, device, tokens)
    parts["logits"] = logits_bytes(config, s, compute, tokens, device)
    dynamic = sum(v for k, v in parts.items() if k in DYNAMIC)
    if device == "cuda":
        parts["cuda_overhead"] = CUDA_CONTEXT_GB * GB + ALLOCATOR_SLACK * dynamic
    else:
        parts["runtime"] = CPU_RUNTIME_GB * GB
        parts["cpu_allocator"] = cpu_allocator_share() * (parts["activations"] + parts["logits"])
    breakdown = {k: round(v / GB, 3) for k, v in parts.items()}
    return Estimate(peak_gb=round(sum(parts.values()) / GB, 2), breakdown=breakdown,
                    params_b=round(p.total / 1e9, 3), trainable_params=int(trainable), gpus=gpus,
                    device=device, notes=notes, strategy=strategy, offloaded_gb=round(offloaded / GB, 2),
                    parts=parts)
