"""The one place where "auto" becomes a value: `resolve(config, hardware)` before a run starts.

Every key whose empty/auto value means "the engine decides" is decided here, by the rules below, for the
machine the run is on: the attention kernel (`flash_attn`), `packing`, `padding_free`, precision (`bf16` /
`fp16`), gradient checkpointing (`disable_gradient_checkpointing`) and `lora_alpha`; and, from the model's
type, whether the loss is computed in vocabulary chunks (`chunked_loss`). The resolved config is
what `run_config.yaml` and the journal's `start` event record and what `--dry-run` prints. Code that is
handed a config that did not go through `resolve` (chat, export, a data preview) asks the same rules.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .schema import TrainConfig

ATTENTION = {"disabled": "eager", "sdpa": "sdpa", "fa2": "flash_attention_2", "fa3": "flash_attention_3"}
SEGMENT_SDPA = "sdpa_segments"  # the name engine.models.segment_attention registers
FLASH_PACKAGES = {"fa2": "flash_attn", "fa3": "flash_attn_interface"}
# Model types whose causal-LM forward applies the output head and then `loss_function` to its logits, with
# nothing between (no soft-capping or logit scaling, no auxiliary loss): tests/unit/test_chunked_loss_models.py
# reads their forward code.
CHUNKED_LOSS_MODELS = frozenset({"llama", "mistral", "ministral", "qwen2", "qwen3", "phi3", "gemma", "olmo",
                                 "olmo2", "smollm3", "starcoder2", "glm4"})
MLP_RECOMPUTE_MODELS = CHUNKED_LOSS_MODELS - {"starcoder2"}  # decoder MLPs with a down_proj
LOSS_CHUNK_BYTES = 64 * 2**20  # the float32 logits of one chunk of the chunked loss
RESOLVED_KEYS = ("flash_attn", "packing", "padding_free", "bf16", "fp16", "disable_gradient_checkpointing",
                 "lora_alpha")


@dataclass(frozen=True)
class Hardware:
    """What the rules need to know of the machine a run is on."""

    cuda: bool = False  # a CUDA GPU that torch can use
    bf16: bool = False  # that GPU computes in bfloat16 (compute capability 8.0+)
    flash_attn: frozenset[str] = frozenset()  # the installed flash-attention packages

    @classmethod
    def detect(cls) -> "Hardware":
        """This process's view: torch's CUDA (imports torch) and the installed flash-attention packages."""
        import torch

        cuda = torch.cuda.is_available()
        return cls(cuda=cuda, bf16=cuda and bool(torch.cuda.is_bf16_supported()),
                   flash_attn=frozenset(p for p in FLASH_PACKAGES.values() if importlib.util.find_spec(p)))


def resolve(config: TrainConfig, hardware: Hardware) -> TrainConfig:
    """The config with every auto/empty decision made for this hardware. A kernel that cannot run here
    (fa2/fa3 without CUDA or the package) is refused when the model loads, inside the journaled run."""
    kernel = attention_kernel(config, hardware)
    update: dict[str, Any] = {
        "flash_attn": kernel, "packing": packing(config),
        "padding_free": padding_free(config, ATTENTION[kernel], hardware.cuda),
        "disable_gradient_checkpointing": not gradient_checkpointing(config, hardware.cuda),
        "lora_alpha": lora_alpha(config), **precision(config, hardware)}
    return config.model_copy(update=update)


def resolved_values(config: TrainConfig) -> dict[str, Any]:
    """The values `resolve` decides, as the journal's `start` event records them."""
    return {key: getattr(config, key) for key in RESOLVED_KEYS}


def attention_kernel(config: TrainConfig, hardware: Hardware) -> str:
    """flash_attn as a concrete choice: auto is fa2 on a CUDA GPU with flash_attn installed (not with
    neat_packing, whose block-diagonal mask needs sdpa/eager), else sdpa."""
    if config.flash_attn != "auto":
        return config.flash_attn
    on_gpu = hardware.cuda and not config.use_cpu
    return "fa2" if on_gpu and "flash_attn" in hardware.flash_attn and not config.neat_packing else "sdpa"


def attn_implementation(config: TrainConfig, hardware: Hardware | None = None) -> str:
    """transformers' `attn_implementation` for the config's kernel (detecting the hardware only when needed);
    ConfigError when fa2/fa3 cannot run here. SDPA under padding-free batches runs per example
    (`sdpa_segments`, engine.models.segment_attention), never across the whole row."""
    if config.flash_attn in ("disabled", "sdpa"):
        if config.flash_attn == "sdpa" and config.padding_free:
            return SEGMENT_SDPA
        return ATTENTION[config.flash_attn]
    hardware = hardware or Hardware.detect()
    choice = attention_kernel(config, hardware)
    if choice in FLASH_PACKAGES and (not hardware.cuda or FLASH_PACKAGES[choice] not in hardware.flash_attn):
        raise ConfigError(f"flash_attn: {choice} needs a CUDA GPU and the '{FLASH_PACKAGES[choice]}' package — "
                          "install it, or set flash_attn: sdpa")
    return ATTENTION[choice]


def attention_layout(config: TrainConfig) -> str:
    """How a resolved config lays a batch out for attention, in words (for --dry-run and the journal)."""
    if packing(config):
        return "packed rows" + (", attention inside each example" if config.neat_packing else "")
    if not config.padding_free:
        return "padded rows"
    kernel = {"fa2": "flash-attention varlen", "fa3": "flash-attention 3 varlen", "sdpa": "SDPA per example",
              "disabled": "eager, block-diagonal mask"}.get(config.flash_attn, config.flash_attn)
    return f"padding-free ({kernel})"


def packing(config: TrainConfig) -> bool:
    """packing, or when empty: on for pt, off otherwise; neat_packing is packing."""
    if config.neat_packing:
        return True
    return config.packing if config.packing is not None else config.stage == "pt"


def padding_free(config: TrainConfig, attn_implementation: str, cuda: bool) -> bool:
    """padding_free, or when empty: on with flash attention (varlen kernels) and on the CPU, where padding is
    pure waste; off for GPU sdpa/eager (block masks grow with the square of the batch's tokens), with
    `packing: true` and for the preference stages. Decided on the config as written (pt's implied packing
    does not turn it off: its packed rows then keep attention inside each example)."""
    if config.padding_free is not None:
        return config.padding_free
    if config.stage not in ("pt", "sft") or config.packing:
        return False
    return attn_implementation.startswith("flash_attention") or not cuda or config.use_cpu


def gradient_checkpointing(config: TrainConfig, cuda: bool) -> bool:
    """On unless disabled; when empty, on for a GPU and off on the CPU (memory is rarely the limit there)."""
    if config.disable_gradient_checkpointing is not None:
        return not config.disable_gradient_checkpointing
    return cuda and not config.use_cpu


def _own_kernels(config: TrainConfig, cuda: bool) -> bool:
    """pt/sft on one process or DDP, without Liger on a GPU: where the chunked loss and the MLP recomputation may
    replace what the model computes (Liger brings its own kernels; ZeRO and FSDP shard the weights they read)."""
    from engine.distributed.strategy import strategy_of

    return (config.stage in ("pt", "sft") and not (config.enable_liger_kernel and cuda and not config.use_cpu)
            and strategy_of(config).name == "ddp")


def chunked_loss(config: TrainConfig, model_type: str, cuda: bool) -> bool:
    """The training loss in vocabulary chunks from the hidden states (engine.train.chunked_loss), never the whole
    batch's logits: for the plain cross entropy on the model types above, with an output head that nothing wraps
    or resizes; not with the DFT loss."""
    targets = " ".join(filter(None, (config.lora_target, config.additional_target, config.freeze_extra_modules,
                                     config.oft_target)))
    return (model_type in CHUNKED_LOSS_MODELS and not config.use_dft_loss and "lm_head" not in targets
            and not (config.new_special_tokens or config.resize_vocab) and _own_kernels(config, cuda))


def mlp_recompute(config: TrainConfig, model_type: str, cuda: bool) -> bool:
    """Selective recomputation of the decoder MLPs (engine.models.recompute) when layers are not checkpointed
    whole: on the dense model types above; not with 4/8-bit weights or unsloth."""
    return (model_type in MLP_RECOMPUTE_MODELS and not gradient_checkpointing(config, cuda)
            and not config.quantization_bit and not config.use_unsloth and _own_kernels(config, cuda))


def recompute_summary(config: TrainConfig, model_type: str, cuda: bool) -> str:
    """What the backward pass recomputes instead of keeping, in words (for --dry-run)."""
    if gradient_checkpointing(config, cuda):
        return "every layer (gradient checkpointing: each keeps its input only)"
    if mlp_recompute(config, model_type, cuda):
        return "the MLPs' activation and product (their matmul outputs are kept)"
    return "nothing (every activation is kept)"


def loss_summary(config: TrainConfig, model_type: str, cuda: bool) -> str:
    """How the training loss meets the vocabulary, in words (for --dry-run)."""
    if config.stage not in ("pt", "sft"):
        return f"{config.stage} loss"
    if chunked_loss(config, model_type, cuda):
        return f"cross entropy in vocabulary chunks of {LOSS_CHUNK_BYTES // 2**20} MB (no full logits)"
    return "cross entropy over the full logits" + (" (DFT-weighted)" if config.use_dft_loss else "")


def precision(config: TrainConfig, hardware: Hardware) -> dict[str, bool]:
    """bf16/fp16 when none is set and a GPU trains: bf16 where the GPU has it, else fp16; fp32 on the CPU."""
    if config.bf16 or config.fp16 or config.pure_bf16 or config.use_cpu or config.infer_dtype != "auto":
        return {}
    if not hardware.cuda:  # use_cpu returned above
        return {}
    return {"bf16": True} if hardware.bf16 else {"fp16": True}


def precision_name(config: TrainConfig) -> str:
    """The training precision in one word: pure_bf16, bf16, fp16, or the weights' dtype (fp32 when auto)."""
    if config.pure_bf16:
        return "pure_bf16"
    if config.bf16 or config.fp16:
        return "bf16" if config.bf16 else "fp16"
    return "fp32" if config.infer_dtype == "auto" else config.infer_dtype


def lora_alpha(config: TrainConfig) -> int:
    """lora_alpha, or when empty: twice the rank."""
    return config.lora_alpha or 2 * config.lora_rank
