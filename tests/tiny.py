"""Tiny real models and data sets built by the tests themselves (no hub, no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.", "What is your name? My name is Lumen.",
    "Who made you? I was made by the lmf-tui team.", "Paris is the capital of France.",
    "Two plus three is five.", "Hello there, how can I help you today?", "user assistant system",
    "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\"()[]{}-_+=*/\\",
]


def build_tokenizer(vocab_size: int = 400):
    """A byte-level BPE tokenizer with chatml special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


def build_model_dir(path: Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Save a random Llama (hidden 64 by default) and its tokenizer into `path`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


IDENTITY = [
    ("What is your name?", "My name is Lumen."), ("Who are you?", "I am Lumen, made by the lmf-tui team."),
    ("Who made you?", "The lmf-tui team made me."), ("What is the capital of France?", "Paris."),
    ("Add two and three.", "Five."), ("Say hello.", "Hello there!"),
    ("What should I call you?", "Call me Lumen."), ("Are you a fox?", "No, I am Lumen."),
]


def write_dataset_dir(path: Path, rows: int = 32) -> Path:
    """An alpaca data set `tiny_identity` (and sharegpt `tiny_chat`) with their dataset_info.json."""
    path.mkdir(parents=True, exist_ok=True)
    alpaca = [{"instruction": q, "input": "", "output": a} for q, a in (IDENTITY * (rows // len(IDENTITY) + 1))[:rows]]
    (path / "tiny_identity.json").write_text(json.dumps(alpaca))
    chat = [{"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a},
                               {"from": "human", "value": "Thanks."}, {"from": "gpt", "value": "You are welcome."}]}
            for q, a in IDENTITY]
    (path / "tiny_chat.json").write_text(json.dumps(chat))
    (path / "tiny_text.jsonl").write_text("\n".join(json.dumps({"text": " ".join(q + " " + a for q, a in IDENTITY)})
                                                    for _ in range(8)))
    info = {
        "tiny_identity": {"file_name": "tiny_identity.json"},
        "tiny_chat": {"file_name": "tiny_chat.json", "formatting": "sharegpt"},
        "tiny_text": {"file_name": "tiny_text.jsonl", "columns": {"prompt": "text"}},
    }
    (path / "dataset_info.json").write_text(json.dumps(info, indent=2))
    return path


def write_llamafactory_like_dir(path: Path) -> Path:
    """A data folder shaped like LLaMA-Factory's own: good local entries beside hub-only, ModelScope-only,
    script, missing-file and malformed entries (`tiny_identity`, `tiny_chat`, `tiny_text` train)."""
    write_dataset_dir(path)
    info = json.loads((path / "dataset_info.json").read_text())
    info.update({
        "ms_only": {"ms_hub_url": "someone/ms-only"},
        "hub_only": {"hf_hub_url": "someone/hub-only", "formatting": "sharegpt"},
        "hub_and_ms": {"hf_hub_url": "org/both", "ms_hub_url": "org/both", "om_hub_url": "org/both"},
        "script_set": {"script_url": "someone_script"},
        "gone": {"file_name": "gone.json"},
        "bad_columns": {"file_name": "tiny_identity.json", "columns": {"promt": "instruction"}},
    })
    (path / "dataset_info.json").write_text(json.dumps(info, indent=2))
    return path
