"""Which fine-tuning methods fit this hardware (`suggest`), and what to change when a config does not (`fix_for`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.config import TrainConfig
from engine.hardware import HardwareInfo, detect_hardware

from .estimate import Device, Estimate, estimate_memory, gradient_checkpointing
from .shape import ModelShape, read_model_shape

MAX_GPUS = 8
# Strategies a suggestion may name for several GPUs, the lightest first (offload also needs CPU RAM,
# which a GPU budget does not know, so it is left to the user).
SHARDING = ("zero2", "zero3")
DEEPSPEED_KEY = {"zero2": "deepspeed=z2", "zero3": "deepspeed=z3"}
# (method, bits, config keys) from the most faithful to the cheapest; the case of presets/sizing.yaml.
GPU_METHODS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("full", 32, {"finetuning_type": "full", "bf16": True}),
    ("full", 16, {"finetuning_type": "full", "bf16": True, "pure_bf16": True}),
    ("freeze", 16, {"finetuning_type": "freeze", "bf16": True}),
    ("oft", 16, {"finetuning_type": "oft", "bf16": True}),
    ("lora", 16, {"finetuning_type": "lora", "bf16": True}),
    ("qlora", 8, {"finetuning_type": "lora", "bf16": True, "quantization_bit": 8}),
    ("qlora", 4, {"finetuning_type": "lora", "bf16": True, "quantization_bit": 4}),
)
CPU_METHODS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("full", 32, {"finetuning_type": "full", "use_cpu": True}),
    ("freeze", 32, {"finetuning_type": "freeze", "use_cpu": True}),
    ("oft", 32, {"finetuning_type": "oft", "use_cpu": True}),
    ("lora", 32, {"finetuning_type": "lora", "use_cpu": True}),
    ("qlora", 8, {"finetuning_type": "lora", "use_cpu": True, "quantization_bit": 8}),
    ("qlora", 4, {"finetuning_type": "lora", "use_cpu": True, "quantization_bit": 4}),
)

# Full fine-tuning with a memory-efficient optimizer, listed when full fine-tuning with AdamW does not fit
# (LLaMA-Factory's examples: layer-wise GaLore and layer-wise BAdam, pure bf16 on a GPU).
GPU_LOW_MEMORY_FULL: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("full + GaLore", 16, {"finetuning_type": "full", "bf16": True, "pure_bf16": True, "use_galore": True,
                           "galore_layerwise": True, "galore_rank": 128}),
    ("full + BAdam", 16, {"finetuning_type": "full", "bf16": True, "pure_bf16": True, "use_badam": True}),
)
CPU_LOW_MEMORY_FULL: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("full + GaLore", 32, {"finetuning_type": "full", "use_cpu": True, "use_galore": True, "galore_layerwise": True,
                           "galore_rank": 128}),
    ("full + BAdam", 32, {"finetuning_type": "full", "use_cpu": True, "use_badam": True}),
)


@dataclass
class MethodFit:
    """One method's estimated peak per device on the fewest GPUs that hold it."""

    method: str
    bits: int
    peak_gb: float
    fits: bool
    gpus: int
    breakdown: dict[str, float]
    strategy: str = "ddp"
    keys: dict[str, Any] = field(default_factory=dict)  # the config keys of this row

    @property
    def how(self) -> str:
        """"1 GPU", or "2 GPUs with DeepSpeed ZeRO-2"."""
        from engine.distributed.strategy import STRATEGIES

        if self.gpus == 1 and self.strategy == "ddp":
            return "1 GPU"
        return f"{self.gpus} GPUs with {STRATEGIES[self.strategy].label}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Suggestion:
    """Every method for one model on one machine; `hardware` says what memory it was compared against."""

    model: str
    params_b: float
    hardware: dict[str, Any]
    methods: list[MethodFit]

    def best(self) -> MethodFit | None:
        """The most faithful method that fits, None when nothing does."""
        return next((m for m in self.methods if m.fits), None)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "params_b": self.params_b, "hardware": self.hardware,
                "methods": [m.to_dict() for m in self.methods]}


@dataclass(frozen=True)
class Budget:
    """The memory one device may use, how many devices there are, and what kind."""

    memory_gb: float
    gpus: int
    device: Device
    compared_to: str
    note: str = ""


def budget_of(hardware: HardwareInfo | None, vram_gb: float | None = None, gpus: int | None = None) -> Budget:
    """GPU memory when given or detected; otherwise RAM (unified memory on Apple MPS)."""
    if vram_gb is not None:
        return Budget(float(vram_gb), max(1, gpus or 1), "cuda", "vram")
    if hardware.gpus:
        return Budget(hardware.vram_gb or 0.0, max(1, min(gpus or len(hardware.gpus), len(hardware.gpus))),
                      "cuda", "vram")
    if hardware.backend == "mps":
        return Budget(hardware.ram_total_gb, 1, "cuda", "ram",
                      "Apple MPS: 16-bit estimates compared against the unified memory")
    return Budget(hardware.ram_available_gb, 1, "cpu", "ram",
                  "no GPU found: fp32 CPU-training estimates compared against the available RAM")


def case_config(keys: dict[str, Any], batch: int = 1, cutoff_len: int = 512) -> TrainConfig:
    """The table's case: gradient checkpointing on, AdamW, LoRA rank 8 on every linear layer."""
    return TrainConfig(per_device_train_batch_size=batch, cutoff_len=cutoff_len, disable_gradient_checkpointing=False,
                       lora_rank=8, lora_target="all", optim="adamw_torch", **keys)


def fewest_gpus(config: TrainConfig, shape: ModelShape, budget: Budget) -> tuple[Estimate, bool]:
    """The estimate on the fewest GPUs (up to budget.gpus) whose per-device peak fits, and whether one does.

    One GPU runs plain; several need a strategy that divides memory (ZeRO-2, then ZeRO-3): DDP only copies
    the model to each GPU. When nothing fits, the estimate on every GPU with ZeRO-3 (or the one GPU).
    """
    estimate = estimate_memory(config, shape, gpus=1, device=budget.device, strategy="ddp")
    if estimate.peak_gb <= budget.memory_gb:
        return estimate, True
    for n in range(2, budget.gpus + 1):
        for strategy in SHARDING:
            estimate = estimate_memory(config, shape, gpus=n, device=budget.device, strategy=strategy)
            if estimate.peak_gb <= budget.memory_gb:
                return estimate, True
    return estimate, False


def suggest(model: str | ModelShape, hardware: HardwareInfo | None = None, vram_gb: float | None = None,
            gpus: int | None = None, batch: int = 1, cutoff_len: int = 512) -> Suggestion:
    """Each method's estimated peak for `model` and whether it fits the given or detected memory."""
    shape = model if isinstance(model, ModelShape) else read_model_shape(model)
    if vram_gb is None:
        hardware = hardware or detect_hardware()
    budget = budget_of(hardware, vram_gb, gpus)
    methods, params_b = [], 0.0
    on_cpu = budget.device == "cpu"
    for method, bits, keys in CPU_METHODS if on_cpu else GPU_METHODS:
        estimate, fits = fewest_gpus(case_config(keys, batch, cutoff_len), shape, budget)
        params_b = estimate.params_b
        methods.append(MethodFit(method, bits, estimate.peak_gb, fits, estimate.gpus, estimate.breakdown,
                                 estimate.strategy, keys))
    if not methods[0].fits:  # full fine-tuning with AdamW does not fit: the memory-efficient optimizers
        at = next(i for i, m in enumerate(methods) if m.method != "full")
        for method, bits, keys in CPU_LOW_MEMORY_FULL if on_cpu else GPU_LOW_MEMORY_FULL:
            estimate = estimate_memory(case_config(keys, batch, cutoff_len), shape, device=budget.device)
            methods.insert(at, MethodFit(method, bits, estimate.peak_gb, estimate.peak_gb <= budget.memory_gb, 1,
                                         estimate.breakdown, keys=keys))
            at += 1
    info: dict[str, Any] = {"compared_to": budget.compared_to, "memory_gb": budget.memory_gb, "gpus": budget.gpus,
                            "device": budget.device}
    if hardware is not None and vram_gb is None:
        info["summary"] = hardware.summary()
    if budget.note:
        info["note"] = budget.note
    name = model if isinstance(model, str) else (model.name or "model")
    return Suggestion(model=name, params_b=params_b, hardware=info, methods=methods)


Option = tuple[str, dict[str, Any]]  # (key=value text, overrides)


def _families(config: TrainConfig, device: Device) -> list[list[Option]]:
    """Kinds of change, cheapest kind first; each a list of options from mildest to strongest."""
    batch, accum = config.per_device_train_batch_size, config.gradient_accumulation_steps
    batches = [b for b in (batch // 2**i for i in range(1, 12)) if b >= 1 and accum * batch % b == 0]
    lengths = [n for n in (config.cutoff_len // 2**i for i in range(1, 6)) if n >= 256]
    methods: list[Option] = _low_memory_optimizers(config) + ([] if config.finetuning_type == "lora" else [
        ("finetuning_type=lora", {"finetuning_type": "lora"})])
    if device == "cuda":
        methods += [(f"finetuning_type=lora quantization_bit={bits}",
                     {"finetuning_type": "lora", "quantization_bit": bits})
                    for bits in (8, 4) if not config.quantization_bit or config.quantization_bit > bits]
    families = [
        [(f"per_device_train_batch_size={b} gradient_accumulation_steps={accum * batch // b}",
          {"per_device_train_batch_size": b, "gradient_accumulation_steps": accum * batch // b}) for b in batches],
        [] if gradient_checkpointing(config, device) else
        [("disable_gradient_checkpointing=false", {"disable_gradient_checkpointing": False})],
        [("optim=adamw_8bit", {"optim": "adamw_8bit"})]
        if "8bit" not in config.optim and config.finetuning_type in ("full", "freeze") else [],
        [(f"cutoff_len={n}", {"cutoff_len": n}) for n in lengths],
        methods,
    ]
    return [f for f in families if f]


def _low_memory_optimizers(config: TrainConfig) -> list[Option]:
    """Full fine-tuning with AdamW: GaLore, then BAdam (kept full; the batch fix may add accumulation, so GaLore
    is not offered layer-wise here)."""
    if config.finetuning_type != "full" or any(getattr(config, k) for k in (
            "use_galore", "use_apollo", "use_badam", "use_adam_mini", "use_muon")):
        return []
    return [("use_galore=true galore_rank=128", {"use_galore": True, "galore_rank": 128}),
            ("use_badam=true", {"use_badam": True})]


def fix_for(config: TrainConfig, shape: ModelShape, hardware: HardwareInfo) -> list[str]:
    """For a config that does not fit `hardware`, the cheapest changes that make it fit, each re-estimated.

    One line per kind of change (its mildest option that fits), each starting with key=value overrides;
    when no single change fits, one line combining the strongest options in order. A config that fits gives [].
    """
    budget = budget_of(hardware)
    if config.use_cpu and budget.device == "cuda":
        budget = Budget(hardware.ram_available_gb, 1, "cpu", "ram")
    from engine.distributed.strategy import strategy_of

    own = strategy_of(config).name
    used, memory = (1 if own == "ddp" else budget.gpus), budget.memory_gb

    def peak(overrides: dict[str, Any], gpus: int = used, strategy: str = own) -> float:
        return estimate_memory(config.model_copy(update=overrides), shape, gpus=gpus, device=budget.device,
                               strategy=strategy).peak_gb

    if peak({}) <= memory:
        return []
    fixes = []
    families = _families(config, budget.device)
    for family in families:
        for text, overrides in family:
            if (gb := peak(overrides)) <= memory:
                fixes.append(f"{text} → {gb:.1f} GB of {memory:.1f} GB")
                break
    if budget.device == "cuda" and own in ("ddp", "zero0", "zero1"):
        fixes += _sharding_fix(peak, memory, len(hardware.gpus))
    if fixes:
        return fixes
    return [_combined_fix(families, peak, memory)]


def _sharding_fix(peak: Any, memory: float, have: int) -> list[str]:
    """The fewest GPUs and the lightest strategy that divide the config's memory enough, as key=value."""
    from engine.distributed.strategy import STRATEGIES

    for n in range(2, MAX_GPUS + 1):
        for strategy in SHARDING:
            if (gb := peak({}, n, strategy)) <= memory:
                where = "" if n <= have else f" (this machine has {have})"
                return [f"{DEEPSPEED_KEY[strategy]} on {n} GPUs{where} → {gb:.1f} GB each "
                        f"(fits with {STRATEGIES[strategy].label})"]
    return []


def _combined_fix(families: list[list[Option]], peak: Any, memory: float) -> str:
    """The strongest option of each kind until it fits, then each kind relaxed to its mildest that still fits
    (the costliest kinds first)."""
    chosen: list[Option | None] = []
    for family in families:
        chosen.append(family[-1])
        if peak(_merge(chosen)) <= memory:
            break
    else:
        return f"nothing fits: even {_text(chosen)} needs {peak(_merge(chosen)):.1f} GB of {memory:.1f} GB"
    for i in reversed(range(len(chosen))):
        for option in [None, *families[i]]:
            trial = chosen[:i] + [option] + chosen[i + 1:]
            if peak(_merge(trial)) <= memory:
                chosen = trial
                break
    return f"{_text(chosen)} → {peak(_merge(chosen)):.1f} GB of {memory:.1f} GB"


def _merge(options: list[Option | None]) -> dict[str, Any]:
    return {k: v for option in options if option for k, v in option[1].items()}


def _text(options: list[Option | None]) -> str:
    return " ".join(option[0] for option in options if option)
