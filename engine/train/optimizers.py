"""Memory-efficient optimizers with LLaMA-Factory's keys: GaLore, APOLLO, BAdam, Adam-mini and Muon.

Each comes from the package its authors maintain (galore-torch, apollo-torch, badam, adam-mini; Muon from
torch.optim). `install_optimizer` puts the chosen one on a built Trainer of any stage before training starts,
so checkpoints save its state and resume loads it back.
"""

from __future__ import annotations

import importlib.util
import json
from functools import partial
from pathlib import Path
from types import MethodType
from typing import Any

import torch
from torch import nn
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import LayerWiseDummyOptimizer, get_parameter_names

from ..config import ConfigError, TrainConfig

EXTRA = "lmf-tui[optim]"
PACKAGES = {"use_galore": ("galore_torch", "galore-torch"), "use_apollo": ("apollo_torch", "apollo-torch"),
            "use_badam": ("badam", "badam"), "use_adam_mini": ("adam_mini", "adam-mini")}
NEVER = 2**62  # BAdam's "switch every" when badam_switch_interval is -1 (keep one block)


def chosen_optimizer(config: TrainConfig) -> str | None:
    """The config key that picks a custom optimizer (use_galore …), or None for `optim` alone."""
    return next((k for k in ("use_galore", "use_apollo", "use_badam", "use_adam_mini", "use_muon")
                 if getattr(config, k)), None)


def require_optimizer_packages(config: TrainConfig) -> None:
    """One-line ConfigError naming the extra when the chosen optimizer's package is missing."""
    key = chosen_optimizer(config)
    if key in PACKAGES and importlib.util.find_spec(PACKAGES[key][0]) is None:
        raise ConfigError(f"{key}: needs the {PACKAGES[key][1]} package — run `pip install '{EXTRA}'`, "
                          f"or turn {key} off")
    if key == "use_muon" and not hasattr(torch.optim, "Muon"):
        raise ConfigError(f"use_muon: torch {torch.__version__} has no torch.optim.Muon — "
                          "install torch 2.9 or newer, or turn use_muon off")


def check_world_size(config: TrainConfig, world: int) -> None:
    """LLaMA-Factory's rules for several processes: no layer-wise GaLore/APOLLO, no plain-DDP BAdam."""
    if world <= 1:
        return
    for name in ("galore", "apollo"):
        if getattr(config, f"use_{name}") and getattr(config, f"{name}_layerwise"):
            raise ConfigError(f"{name}_layerwise: a layer-wise optimizer steps inside backward and cannot run on "
                              f"{world} processes — turn {name}_layerwise off, or train on one GPU")
    if config.use_badam and not config.deepspeed:
        raise ConfigError(f"use_badam: BAdam runs on {world} processes only under DeepSpeed ZeRO-3 — "
                          "set deepspeed: z3, or train on one GPU")


def linear_targets(model: nn.Module, spec: str) -> list[str]:
    """Names of the Linear modules a `*_target` value selects: `all` = every linear layer but the output
    layer; otherwise modules whose name contains one of the comma-separated parts."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear) or module is output:
            continue
        if parts in ([], ["all"]) or any(part in name for part in parts):
            names.append(name)
    return names


def build_optimizer(model: nn.Module, args: TrainingArguments, config: TrainConfig,
                    resume_step: int = 0) -> torch.optim.Optimizer | None:
    """The custom optimizer the config asks for, or None to let the Trainer build `optim`."""
    key = chosen_optimizer(config)
    if key is None:
        return None
    require_optimizer_packages(config)
    if key in ("use_galore", "use_apollo"):
        return _low_rank(model, args, config, key.removeprefix("use_"))
    if key == "use_badam":
        return _badam(model, args, config, resume_step)
    if key == "use_adam_mini":
        return _adam_mini(model, args)
    return _muon(model, args)


def _decay_split(model: nn.Module, skip: set[int] = frozenset()) -> tuple[list, list]:
    """Trainable parameters (not in `skip`) split into (with weight decay, without): no decay on norms and biases."""
    decay_names = {n for n in get_parameter_names(model, [nn.LayerNorm, nn.RMSNorm] + _norm_classes(model))
                   if "bias" not in n}
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad and id(param) not in skip:
            (decay if name in decay_names else no_decay).append(param)
    return decay, no_decay


def _norm_classes(model: nn.Module) -> list[type]:
    """The model's own norm layers (e.g. LlamaRMSNorm), which are not subclasses of torch's."""
    return list({type(m) for m in model.modules() if type(m).__name__.endswith(("RMSNorm", "LayerNorm"))})


def _low_rank(model: nn.Module, args: TrainingArguments, config: TrainConfig, name: str) -> torch.optim.Optimizer:
    """GaLore or APOLLO: the low-rank projection on target Linear weights, plain Adam on the rest."""
    targets = set(linear_targets(model, getattr(config, f"{name}_target")))
    low_rank = [p for n, m in model.named_modules() if n in targets
                for p in m.parameters(recurse=False) if p.requires_grad and p.ndim > 1]
    if not low_rank:
        raise ConfigError(f"{name}_target: no trainable linear layer matches '{getattr(config, f'{name}_target')}' "
                          "— use all, or module names such as q_proj,v_proj")
    decay, no_decay = _decay_split(model, {id(p) for p in low_rank})
    _, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    if name == "galore":
        import galore_torch

        cls = {"adamw_torch": galore_torch.GaLoreAdamW, "adafactor": galore_torch.GaLoreAdafactor}.get(
            config.optim, galore_torch.GaLoreAdamW8bit)
        projection = dict(rank=config.galore_rank, update_proj_gap=config.galore_update_interval,
                          scale=config.galore_scale, proj_type=config.galore_proj_type)
        _allow_projector_pickles("galore_torch.galore_projector")
    else:
        from apollo_torch import APOLLOAdamW

        cls = partial(APOLLOAdamW, scale_front=config.apollo_scale_front)
        projection = dict(rank=config.apollo_rank, proj=config.apollo_proj, proj_type=config.apollo_proj_type,
                          update_proj_gap=config.apollo_update_interval, scale=config.apollo_scale,
                          scale_type=config.apollo_scale_type)
        _allow_projector_pickles("apollo_torch.random_projector", "apollo_torch.svd_projector")
    groups = [dict(params=no_decay, weight_decay=0.0), dict(params=decay, weight_decay=args.weight_decay),
              dict(params=low_rank, weight_decay=args.weight_decay, **projection)]
    if not getattr(config, f"{name}_layerwise"):
        return cls([g for g in groups if g["params"]], **kwargs)
    per_param = {p: cls([{**g, "params": [p]}], **kwargs) for g in groups for p in g["params"]}

    def step_now(param: torch.Tensor) -> None:
        if param.grad is not None:
            per_param[param].step()
            per_param[param].zero_grad()

    for param in per_param:
        param.register_post_accumulate_grad_hook(step_now)
    return LayerWiseDummyOptimizer(optimizer_dict=per_param, lr=args.learning_rate)


def _allow_projector_pickles(*modules: str) -> None:
    """Let checkpoint loading (torch.load with weights_only) rebuild the projectors held in optimizer state."""
    import importlib

    classes = [obj for mod in modules for obj in vars(importlib.import_module(mod)).values()
               if isinstance(obj, type) and obj.__module__ == mod]
    torch.serialization.add_safe_globals(classes)


def _badam(model: nn.Module, args: TrainingArguments, config: TrainConfig, resume_step: int) -> torch.optim.Optimizer:
    """BAdam: Adam on one block (decoder layer) at a time, or on a share of every weight (ratio mode)."""
    decay, no_decay = _decay_split(model)
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    groups = [dict(params=no_decay, weight_decay=0.0), dict(params=decay, weight_decay=args.weight_decay)]
    named = list(model.named_parameters())
    if config.badam_mode == "ratio":
        from badam import BlockOptimizerRatio

        return BlockOptimizerRatio(param_groups=groups, named_parameters_list=named,
                                   update_ratio=config.badam_update_ratio, mask_mode=config.badam_mask_mode,
                                   verbose=config.badam_verbose, include_embedding=False, **kwargs)
    from badam import BlockOptimizer

    mode = config.badam_switch_mode
    every = NEVER if (config.badam_switch_interval or 0) < 0 else (config.badam_switch_interval or 50)
    start = 0 if config.badam_start_block is None and mode == "fixed" else config.badam_start_block
    try:
        optimizer = BlockOptimizer(base_optimizer=cls(groups, **kwargs), named_parameters_list=named,
                                   switch_block_every=every, start_block=start, switch_mode=mode,
                                   verbose=config.badam_verbose)
    except IndexError:
        raise ConfigError(f"badam_start_block: {start} is past this model's last block — use a smaller index") from None
    if resume_step and mode != "random":
        first = start if start is not None else (0 if mode == "ascending" else optimizer.block_num - 1)
        block = badam_block_at(first, resume_step, every, optimizer.block_num, mode)
        if block != first:  # make the block active at the checkpoint current again, so its moments load
            optimizer.current_block_idx = block
            optimizer.switch_trainable_params(verbose=0)
    optimizer.global_step = resume_step
    return optimizer


def badam_block_at(start: int, step: int, every: int, blocks: int, mode: str | None) -> int:
    """The block layer-wise BAdam trains after `step` optimizer steps (it switches after the steps k with
    (k + 1) % every == 0); ascending, descending or fixed order."""
    moves = (step + 1) // every - 1 // every
    if mode == "ascending":
        return (start + moves) % blocks
    if mode == "descending":
        return (start - moves) % blocks
    return start


def _adam_mini(model: nn.Module, args: TrainingArguments) -> torch.optim.Optimizer:
    """Adam-mini: one second-moment value per block (head, neuron, embedding row) instead of per weight."""
    from adam_mini import Adam_mini

    cfg = model.config
    return Adam_mini(named_parameters=[(n, p) for n, p in model.named_parameters() if p.requires_grad],
                     lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon,
                     weight_decay=args.weight_decay, model_sharding=_sharded(args), dim=cfg.hidden_size,
                     n_heads=cfg.num_attention_heads,
                     n_kv_heads=getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads, verbose=False)


def _sharded(args: TrainingArguments) -> bool:
    """Whether parameters are sharded across ranks (DeepSpeed ZeRO-3 or FSDP), as Adam-mini must know."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    return is_deepspeed_zero3_enabled() or bool(getattr(args, "fsdp", None))


def _muon(model: nn.Module, args: TrainingArguments) -> torch.optim.Optimizer:
    """torch.optim.Muon on 2-D hidden weights; AdamW on embeddings, the output layer, norms and biases."""
    muon, adamw = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            hidden_matrix = param.ndim == 2 and "embed" not in name and "lm_head" not in name
            (muon if hidden_matrix else adamw).append(param)
    parts = []
    if muon:
        parts.append(torch.optim.Muon(muon, lr=args.learning_rate, weight_decay=args.weight_decay,
                                      adjust_lr_fn="match_rms_adamw"))
    if adamw:
        parts.append(torch.optim.AdamW(adamw, lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
                                       eps=args.adam_epsilon, weight_decay=args.weight_decay))
    return OptimizerChain(parts)


class OptimizerChain(torch.optim.Optimizer):
    """Several optimizers stepped as one: shared param_groups (so schedulers reach all) and one state dict."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = optimizers
        super().__init__([p for o in optimizers for g in o.param_groups for p in g["params"]], {})
        self.param_groups = [g for o in optimizers for g in o.param_groups]

    @property
    def state(self):  # type: ignore[override]
        return {k: v for o in self.optimizers for k, v in o.state.items()}

    @state.setter
    def state(self, _value: Any) -> None:  # set by Optimizer.__init__; the parts hold the real state
        pass

    def step(self, closure: Any = None) -> Any:
        loss = closure() if closure is not None else None
        for optimizer in self.optimizers:
            optimizer.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"parts": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for optimizer, part in zip(self.optimizers, state_dict["parts"], strict=True):
            optimizer.load_state_dict(part)


class BAdamSetup(TrainerCallback):
    """BAdam's own Trainer setup (gradient checkpointing of the active block only); on resume, the learning rate
    the scheduler restored (BAdam's load_state_dict reaches only its inner optimizer)."""

    def on_train_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
        from badam import BAdamCallback

        BAdamCallback().on_train_begin(args, state, control, optimizer=optimizer, **kwargs)
        inner = getattr(optimizer, "optimizer", optimizer)
        if state.global_step and lr_scheduler is not None and inner is not None:
            for group, lr in zip(inner.param_groups, lr_scheduler.get_last_lr()):
                group["lr"] = lr


def install_optimizer(trainer: Trainer, config: TrainConfig, resume: str | None) -> str | None:
    """Make the trainer build the config's optimizer when it asks for one (after a resumed run's weights are
    loaded, which BAdam's full-precision copy of the active block needs); returns a journal note when resuming
    cannot restore the optimizer's state."""
    if chosen_optimizer(config) is None:
        return None
    require_optimizer_packages(config)
    resume_step = _checkpoint_step(resume)
    build_default = trainer.create_optimizer

    def create_optimizer(self: Trainer, model: nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            self.optimizer = build_optimizer(model or self.model, self.args, config, resume_step)
        return self.optimizer if self.optimizer is not None else build_default(model)

    trainer.create_optimizer = MethodType(create_optimizer, trainer)
    if config.use_badam:
        from badam import clip_grad_norm_old_version

        trainer.accelerator.clip_grad_norm_ = MethodType(clip_grad_norm_old_version, trainer.accelerator)
        trainer.add_callback(BAdamSetup())
    if not resume:
        return None
    layerwise = (config.use_galore and config.galore_layerwise) or (config.use_apollo and config.apollo_layerwise)
    if layerwise:
        name = "GaLore" if config.use_galore else "APOLLO"
        return (f"layer-wise {name} keeps its moments in per-layer optimizers that checkpoints do not hold: "
                "resumed with fresh moments (same weights, step and learning rate)")
    if config.use_badam and config.badam_mode == "layer" and config.badam_switch_mode == "random" and resume_step:
        return ("BAdam's random block order cannot be replayed: resumed on the first block of a new order "
                "with fresh moments")
    return None


def _checkpoint_step(resume: str | None) -> int:
    if not resume:
        return 0
    state = Path(resume) / "trainer_state.json"
    try:
        return int(json.loads(state.read_text(encoding="utf-8"))["global_step"])
    except (OSError, ValueError, KeyError):
        return 0

