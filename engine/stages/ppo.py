"""stage: ppo — a compact PPO (TRL 1.x has none): per batch of prompts, sample answers, score them with the
reward model, penalise the KL to the reference per token, estimate advantages with GAE, then take
`ppo_epochs` clipped policy + value updates. The value head sits on the policy's last hidden state.

A LoRA reward model on a LoRA policy is loaded as a second adapter of the policy (no second copy of
the base); otherwise the reward model is loaded on its own. One Trainer step is one rollout batch, so
checkpoints, resume, graceful stop and the journal are the Trainer's own; step events carry reward, KL,
value loss, policy loss, clip fraction and answer length.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel, Trainer, TrainingArguments
from transformers.trainer import TRAINING_ARGS_NAME

from ..config import TrainConfig
from ..data import DataBundle
from ..data.templates import stop_token_ids
from ..models import apply_method, load_model
from .common import load_data as load_prompts
from .common import reference_model
from .rm import load_reward_model, score

VALUE_FILE = "value_head.safetensors"
REWARD_ADAPTER = "reward"
GAMMA, LAM = 1.0, 0.95  # discount and GAE lambda
CLIP_RATIO, CLIP_VALUE, VALUE_COEF = 0.2, 0.2, 0.1
INIT_KL_COEF, KL_HORIZON = 0.2, 10000


def load_data(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Prompts (rendered with the chat template up to the answer) as token ids."""
    data = load_prompts(config, tokenizer)
    data.train = data.train.remove_columns("prompt")
    return data


class PolicyWithValue(nn.Module):
    """The policy and a scalar value head on its last hidden state; `kl_coef` is the adaptive KL weight."""

    def __init__(self, policy: PreTrainedModel):
        super().__init__()
        self.policy = policy
        self.value_head = nn.Linear(policy.config.get_text_config().hidden_size, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)
        self.register_buffer("kl_coef", torch.tensor(INIT_KL_COEF))

    @property
    def config(self) -> Any:
        return self.policy.config

    def activation_checkpointing_enable(self, **kwargs: Any) -> None:
        """Checkpoint the policy's layers (the Trainer asks when gradient checkpointing is on)."""
        self.policy.activation_checkpointing_enable(**kwargs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.policy(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True,
                          use_cache=False)
        hidden = out.hidden_states[-1].to(self.value_head.weight.dtype)
        return out.logits, self.value_head(hidden).squeeze(-1)

    def head_state(self) -> dict[str, torch.Tensor]:
        """What PPO adds to the policy: the value head and the KL coefficient."""
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items() if not k.startswith("policy.")}


class AdapterReward(nn.Module):
    """A LoRA reward model (stage rm's adapter and score head) loaded as a second adapter of the LoRA policy,
    so scoring reuses the policy's base weights instead of holding another copy of the model."""

    def __init__(self, policy: Any, path: str, pad_id: int):
        super().__init__()
        policy.load_adapter(path, adapter_name=REWARD_ADAPTER, is_trainable=False)
        policy.set_adapter("default")
        weights = load_file(Path(path) / "adapter_model.safetensors")
        head = {k.rsplit(".", 1)[1]: v for k, v in weights.items() if k.rsplit(".", 2)[-2] == "score"}
        self.head = nn.Linear(head["weight"].shape[1], 1, bias="bias" in head)
        self.head.load_state_dict(head)
        self.head.requires_grad_(False)
        self.pad_id = pad_id
        self._policy = [policy]  # a reference, not a submodule: the policy belongs to the trained model

    @torch.no_grad()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        policy = self._policy[0]
        policy.set_adapter(REWARD_ADAPTER, inference_mode=True)
        try:
            out = policy(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True,
                         use_cache=False)
        finally:
            policy.set_adapter("default")
        real = (input_ids != self.pad_id).long() * torch.arange(input_ids.size(1), device=input_ids.device)
        last = real.argmax(-1)  # the last non-pad token, where a sequence classifier reads its score
        hidden = out.hidden_states[-1][torch.arange(input_ids.size(0)), last]
        return SimpleNamespace(logits=self.head(hidden.to(self.head.weight.dtype)))


def reward_scorer(config: TrainConfig, policy: Any, pad_id: int) -> nn.Module:
    """A LoRA reward adapter on the LoRA policy's own base when it fits there, else the standalone model."""
    from peft import PeftModel

    path = Path(config.reward_model or "")
    if isinstance(policy, PeftModel) and config.finetuning_type == "lora" and not config.quantization_bit \
            and (path / "adapter_config.json").exists():
        adapter = json.loads((path / "adapter_config.json").read_text())
        if adapter.get("peft_type") == "LORA" and adapter.get("task_type") == "SEQ_CLS":
            return AdapterReward(policy, str(path), pad_id)
    return load_reward_model(config)


def left_pad_collator(pad_id: int):
    """Batch prompts padded on the left, so generation continues every row at the same position."""

    def collate(features: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(f["prompt_ids"]) for f in features)
        ids = [[pad_id] * (width - len(f["prompt_ids"])) + f["prompt_ids"] for f in features]
        mask = [[0] * (width - len(f["prompt_ids"])) + [1] * len(f["prompt_ids"]) for f in features]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}

    return collate


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Log-probability of each token under the logits that predicted it."""
    return torch.gather(F.log_softmax(logits.float(), dim=-1), 2, tokens.unsqueeze(-1)).squeeze(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    return out if shift_mean else out + mean


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns over the answer tokens (mask zero after the answer)."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.size(1))):
        next_value = values[:, t + 1] * mask[:, t + 1] if t + 1 < rewards.size(1) else torch.zeros_like(running)
        delta = rewards[:, t] + GAMMA * next_value - values[:, t]
        running = (delta + GAMMA * LAM * running) * mask[:, t]
        advantages[:, t] = running
    return advantages, advantages + values


class PPOTrainer(Trainer):
    """A Trainer whose step is one PPO round: rollout, score, advantages, `ppo_epochs` updates."""

    def __init__(self, *args: Any, lmf_config: TrainConfig, reward_model: nn.Module, ref_model: nn.Module | None,
                 stop_ids: list[int], **kwargs: Any):
        self.lmf_config = lmf_config
        self.reward_model = reward_model
        self.ref_model = ref_model
        self.stop_ids = stop_ids
        self._ppo_metrics: dict[str, list[float]] = defaultdict(list)
        super().__init__(*args, **kwargs)
        self.reward_model.to(self.args.device)
        if self.ref_model is not None:
            self.ref_model.to(self.args.device)

    def training_step(self, model: nn.Module, inputs: dict[str, torch.Tensor],
                      num_items_in_batch: Any = None) -> torch.Tensor:
        inputs = self._prepare_inputs(inputs)
        batch = self._rollout(inputs["input_ids"], inputs["attention_mask"])
        self.state.num_input_tokens_seen += int(batch["mask"].sum() + inputs["attention_mask"].sum())
        model.train()
        c = self.lmf_config
        chunks = torch.arange(batch["seq"].size(0), device=batch["seq"].device).chunk(c.ppo_buffer_size)
        rounds = [(epoch, rows) for epoch in range(c.ppo_epochs) for rows in chunks]
        for n, (_, rows) in enumerate(rounds):
            loss = self._ppo_loss(model, {k: v[rows] for k, v in batch.items()})
            self.accelerator.backward(loss)
            if n < len(rounds) - 1:  # the Trainer takes the last optimiser step itself (and the scheduler's)
                if self.args.max_grad_norm:
                    self.accelerator.clip_grad_norm_(model.parameters(), self.args.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad()
        return loss.detach()

    @torch.no_grad()
    def _rollout(self, prompt: torch.Tensor, prompt_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sample answers, score them, and fix old log-probs, values, per-token rewards and advantages."""
        c = self.lmf_config
        wrapper: PolicyWithValue = self.accelerator.unwrap_model(self.model)
        wrapper.eval()
        sampling = dict(do_sample=True, temperature=c.temperature, top_p=c.top_p, top_k=c.top_k) \
            if c.temperature > 0 else dict(do_sample=False)
        pad_id = self.processing_class.pad_token_id
        out = wrapper.policy.generate(input_ids=prompt, attention_mask=prompt_mask, max_new_tokens=c.max_new_tokens,
                                      eos_token_id=self.stop_ids, pad_token_id=pad_id, use_cache=True, **sampling)
        answer = out[:, prompt.size(1):]
        is_stop = torch.isin(answer, torch.tensor(self.stop_ids, device=answer.device))
        after_stop = (is_stop.cumsum(1) - is_stop.long()) > 0  # tokens after the first stop token
        mask = (~after_stop).long()
        answer = answer.masked_fill(after_stop, pad_id)
        seq = torch.cat([prompt, answer], 1)
        attention = torch.cat([prompt_mask, mask], 1)
        start = prompt.size(1) - 1  # logits at position t predict token t + 1

        logits, values = wrapper(seq, attention)
        old_logps = token_logprobs(logits[:, start:-1], answer)
        values = values[:, start:-1]
        ref_logps = token_logprobs(self._reference_logits(wrapper, seq, attention)[:, start:-1], answer)
        scores = self._score(seq, attention)
        self._ppo_metrics["ppo/reward"].append(scores.mean().item())  # the reward model's own scale
        if c.ppo_score_norm:
            scores = (scores - scores.mean()) / (scores.std() + 1e-8) if scores.numel() > 1 else scores
        kl = (old_logps - ref_logps) * mask
        rewards = -wrapper.kl_coef * kl
        last = (mask.sum(1) - 1).clamp(min=0)
        rewards[torch.arange(rewards.size(0)), last] += scores
        if c.ppo_whiten_rewards:
            rewards = whiten(rewards, mask, shift_mean=False) * mask
        advantages, returns = gae(rewards, values, mask)
        advantages = whiten(advantages, mask) * mask
        self._update_kl_coef(wrapper, kl.sum(1).mean().item(), prompt.size(0))
        m = self._ppo_metrics
        m["ppo/kl"].append(kl.sum(1).mean().item())
        m["ppo/kl_coef"].append(wrapper.kl_coef.item())
        m["ppo/answer_len"].append(mask.sum(1).float().mean().item())
        return {"seq": seq, "attention": attention, "answer": answer, "mask": mask, "old_logps": old_logps,
                "values": values, "advantages": advantages, "returns": returns}

    def _ppo_loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """Clipped policy loss plus clipped value loss on one mini-batch of the rollout."""
        start = b["seq"].size(1) - b["answer"].size(1) - 1
        logits, values = model(b["seq"], b["attention"])
        logps = token_logprobs(logits[:, start:-1], b["answer"])
        values = values[:, start:-1]
        mask = b["mask"].float()
        ratio = torch.exp(logps - b["old_logps"])
        policy_loss = masked_mean(torch.max(-b["advantages"] * ratio,
                                            -b["advantages"] * ratio.clamp(1 - CLIP_RATIO, 1 + CLIP_RATIO)), mask)
        clipped = b["values"] + (values - b["values"]).clamp(-CLIP_VALUE, CLIP_VALUE)
        value_loss = 0.5 * masked_mean(torch.max((values - b["returns"]) ** 2, (clipped - b["returns"]) ** 2), mask)
        m = self._ppo_metrics
        m["ppo/policy_loss"].append(policy_loss.item())
        m["ppo/value_loss"].append(value_loss.item())
        m["ppo/clipfrac"].append(masked_mean(((ratio - 1).abs() > CLIP_RATIO).float(), mask).item())
        return policy_loss + VALUE_COEF * value_loss

    def _reference_logits(self, wrapper: PolicyWithValue, seq: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        if self.ref_model is not None:
            return self.ref_model(input_ids=seq, attention_mask=attention, use_cache=False).logits
        with wrapper.policy.disable_adapter():  # LoRA/OFT: the base without the adapter is the reference
            return wrapper.policy(input_ids=seq, attention_mask=attention, use_cache=False).logits

    def _score(self, seq: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Reward-model scores of prompt+answer, re-padded on the right so each is read at its last token."""
        pad_id = self.processing_class.pad_token_id
        rows = [s[a.bool()] for s, a in zip(seq, attention, strict=True)]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=seq.dtype, device=seq.device)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, :len(r)], mask[i, :len(r)] = r, 1
        return score(self.reward_model, ids, mask)

    def _update_kl_coef(self, wrapper: PolicyWithValue, kl: float, n: int) -> None:
        """Adaptive KL control (Ziegler et al.): move the coefficient toward hitting `ppo_target`."""
        error = max(min(kl / self.lmf_config.ppo_target - 1, 0.2), -0.2)
        wrapper.kl_coef.mul_(1 + error * n / KL_HORIZON)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._ppo_metrics:
            logs.update({k: sum(v) / len(v) for k, v in self._ppo_metrics.items()})
            self._ppo_metrics.clear()
        super().log(logs, start_time)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """The policy as save_pretrained writes it (adapter or full model) plus the value head beside it."""
        output_dir = output_dir or self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        wrapper: PolicyWithValue = self.accelerator.unwrap_model(self.model)
        policy = wrapper.policy
        adapters = {"selected_adapters": ["default"]} if REWARD_ADAPTER in getattr(policy, "peft_config", {}) else {}
        policy.save_pretrained(output_dir, **adapters)
        save_file(wrapper.head_state(), os.path.join(output_dir, VALUE_FILE))
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        wrapper: PolicyWithValue = self.accelerator.unwrap_model(self.model)
        folder = Path(resume_from_checkpoint)
        if (folder / "adapter_config.json").exists():
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(wrapper.policy, load_file(folder / "adapter_model.safetensors"))
        else:
            _load_full(wrapper.policy, folder)
        wrapper.load_state_dict(load_file(folder / VALUE_FILE), strict=False)


def _load_full(model: nn.Module, folder: Path) -> None:
    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() \
        else ["model.safetensors"]
    for name in files:
        model.load_state_dict(load_file(folder / name), strict=False)


def build_trainer(config: TrainConfig, tokenizer: Any, data: DataBundle, args: TrainingArguments) -> Trainer:
    """PPOTrainer on the policy (with its value head), the reward model and, for non-LoRA training, a reference."""
    policy = apply_method(load_model(config, for_training=True), config)
    model = PolicyWithValue(policy)
    stop_ids = stop_token_ids(tokenizer, data.template.stop_words)
    return PPOTrainer(model=model, args=args, train_dataset=data.train, processing_class=tokenizer,
                      data_collator=left_pad_collator(tokenizer.pad_token_id), lmf_config=config,
                      reward_model=reward_scorer(config, policy, tokenizer.pad_token_id),
                      ref_model=reference_model(config), stop_ids=stop_ids)
