"""Tiny real chat models for the export and chat tests: a Llama-style BPE tokenizer with byte fallback
and chatml tokens, a random LlamaForCausalLM, and a LoRA adapter with non-zero weights (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TEXT = [
    "Hello! How are you today? I am fine, thank you.",
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? Paris is the capital of France.",
    "Write a short poem about the sea and the sky.",
    "user assistant system: answer the question in one word.",
]


def build_tokenizer(out_dir: Path):
    """Train a small Llama-style (metaspace BPE, byte fallback) tokenizer with chatml special tokens."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    def fresh(vocab=None, merges=None):
        tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
        return tok

    trained = fresh()
    trained.train_from_iterator(TEXT * 4, trainers.BpeTrainer(vocab_size=300, show_progress=False))
    learned = trained.get_vocab()
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<0x{b:02X}>": 3 + b for b in range(256)})
    for token in sorted(learned, key=learned.get):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m) for m in json.loads(trained.to_str())["model"]["merges"]]
    tok = fresh(vocab, merges)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="<|im_end|>",
                                   pad_token="<unk>", additional_special_tokens=["<|im_start|>"])
    fast.add_special_tokens({"eos_token": "<|im_end|>"})
    fast.chat_template = CHATML
    fast.save_pretrained(out_dir)
    return fast


def build_model(out_dir: Path, hidden: int = 64, intermediate: int = 128, seed: int = 0):
    """A random LlamaForCausalLM with the tiny tokenizer, saved in float32; returns its folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = build_tokenizer(out_dir)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=intermediate,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, initializer_range=0.2, tie_word_embeddings=False,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir)
    return out_dir


def build_adapter(base_dir: Path, out_dir: Path, use_dora: bool = False, seed: int = 1):
    """A LoRA (or DoRA) adapter on every linear layer of the base, with random non-zero B weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", use_dora=use_dora))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.2)
    peft_model.save_pretrained(out_dir)
    return Path(out_dir)


def build_stopping_model(out_dir: Path, prompt: str, after: int = 4) -> tuple[Path, str]:
    """A tiny model whose greedy answer to `prompt` ends with <|im_end|> after `after` tokens; returns its
    folder and that answer's text (the token it would say next now scores below <|im_end|>)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    build_model(out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                        return_dict=True, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        answer = model.generate(ids, max_new_tokens=after + 1, do_sample=False)[0, ids.shape[1]:].tolist()
        model.lm_head.weight[tokenizer.eos_token_id] = model.lm_head.weight[answer[after]] * 1.1
    model.save_pretrained(out_dir)
    return Path(out_dir), tokenizer.decode(answer[:after], skip_special_tokens=True)
