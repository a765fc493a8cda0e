"""Parameter counts against real (tiny, random) transformers models and the adapters peft builds on them."""

from __future__ import annotations

import pytest

from engine.config import TrainConfig
from engine.sizing import count_params, trainable_params
from engine.sizing.shape import ModelShape

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 256}
CASES = {
    "llama": TINY | {"tie_word_embeddings": False},
    "llama-tied-bias": TINY | {"tie_word_embeddings": True, "attention_bias": True, "mlp_bias": True},
    "qwen2": TINY | {"tie_word_embeddings": False},
    "qwen3": TINY | {"head_dim": 32, "tie_word_embeddings": False},
    "qwen3_moe": TINY | {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                         "tie_word_embeddings": False},
    "mixtral": TINY | {"num_local_experts": 4, "num_experts_per_tok": 2, "tie_word_embeddings": False},
}


def build(kind: str):
    import transformers

    config = CASES[kind]
    model_type = kind.split("-")[0]
    cfg = transformers.AutoConfig.for_model(model_type, **config)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    return model, ModelShape.from_config(cfg.to_dict())


def test_hand_computed_tiny_llama():
    p = count_params(ModelShape.from_config(CASES["llama"] | {"model_type": "llama"}))
    # embeddings and lm_head 256*64 each; per layer q,o 64*64, k,v 64*32, MLP 3*64*128, 2 norms of 64; final norm
    assert (p.embeddings, p.lm_head, p.attention, p.mlp, p.norms) == (16384, 16384, 2 * 12288, 2 * 24576, 2 * 128 + 64)
    assert p.total == 106816


@pytest.mark.parametrize("kind", list(CASES))
def test_counts_match_transformers(kind):
    model, shape = build(kind)
    assert count_params(shape).total == sum(t.numel() for t in model.parameters())


@pytest.mark.parametrize("keys", [
    {"finetuning_type": "lora"}, {"finetuning_type": "lora", "lora_rank": 4, "lora_target": "q_proj,v_proj"},
    {"finetuning_type": "lora", "use_dora": True}, {"finetuning_type": "oft", "oft_block_size": 16},
])
@pytest.mark.parametrize("kind", ["llama", "qwen3"])
def test_adapter_trainable_params_match_peft(kind, keys):
    import peft

    model, shape = build(kind)
    config = TrainConfig(**keys)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    if config.finetuning_type == "lora":
        names = targets if config.lora_target == "all" else config.lora_target.split(",")
        adapter = peft.LoraConfig(r=config.lora_rank, target_modules=names, use_dora=config.use_dora)
    else:
        adapter = peft.OFTConfig(oft_block_size=config.oft_block_size, r=0, target_modules=targets)
    peft_model = peft.get_peft_model(model, adapter)
    expected = sum(t.numel() for t in peft_model.parameters() if t.requires_grad)
    assert trainable_params(config, shape) == expected


def test_freeze_full_and_extra_modules():
    shape = ModelShape.from_config(CASES["llama"] | {"model_type": "llama"})
    per_layer = 12288 + 24576 + 128
    assert trainable_params(TrainConfig(finetuning_type="freeze", freeze_trainable_layers=1), shape) == per_layer
    assert trainable_params(TrainConfig(finetuning_type="freeze", freeze_trainable_layers=-2,
                                        freeze_trainable_modules="mlp"), shape) == 2 * 24576
    assert trainable_params(TrainConfig(finetuning_type="full"), shape) == 106816
    lora = trainable_params(TrainConfig(finetuning_type="lora"), shape)
    assert lora == 2 * 8 * (128 + 96 + 96 + 128 + 192 + 192 + 192)
    assert trainable_params(TrainConfig(finetuning_type="lora", additional_target="embed_tokens,lm_head"),
                            shape) == lora + 2 * 16384
