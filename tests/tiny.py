"""Tiny real models, tokenizers and data sets built by the tests themselves (no hub, no downloads).

One place for them: the tiny models' byte-level chatml tokenizer (`build_tokenizer`), the data and template
tests' tokenizer with many formats' special tokens (`tiny_tokenizer`), and the export and chat tests'
Llama-style tokenizer with byte fallback (llama.cpp converts it) with its model, adapter and stopping model.
"""

from __future__ import annotations

import json
from functools import lru_cache
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


@lru_cache(maxsize=4)
def _byte_level_bpe(corpus: tuple[str, ...], specials: tuple[str, ...], vocab_size: int) -> str:
    """A byte-level BPE tokenizer trained on `corpus` (JSON text, cached: tests build many)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(corpus) * 4, trainer)
    return tok.to_str()


def build_tokenizer(vocab_size: int = 400):
    """The tiny models' tokenizer: byte-level BPE with chatml special tokens and chat template."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    json_text = _byte_level_bpe(tuple(CORPUS), ("<|endoftext|>", "<|im_start|>", "<|im_end|>"), vocab_size)
    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json_text), eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")
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


CHATML_JINJA = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                "{% endif %}")
TEMPLATE_SPECIALS = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>",
            "<|start_header_id|>", "<|end_header_id|>", "<start_of_turn>", "<end_of_turn>", "<|end|>",
            "<|system|>", "<|user|>", "<|assistant|>", "[INST]", "[/INST]"]
TEMPLATE_CORPUS = [
    "The quick brown fox jumps over the lazy dog.", "Hello! How can I help you today?",
    "user assistant system tool function observation think", "What is 1+1? It is 2. Add them: 5.",
    "Weather in Paris is 20 degrees.", "Human: Assistant: System: Observation:",
    '{"name": "weather", "arguments": {"city": "Paris"}}', "A second line of plain text for pretraining.",
]


def tiny_tokenizer(chat_template: str | None = CHATML_JINJA, vocab_size: int = 400):
    """A tokenizer for the data and template tests: the special tokens of many chat formats (pad <pad>,
    eos <|im_end|>, bos <s>) and the given chat template; not saved with a model."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    json_text = _byte_level_bpe(tuple(TEMPLATE_CORPUS), tuple(TEMPLATE_SPECIALS), vocab_size)
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json_text), pad_token="<pad>",
                                  eos_token="<|im_end|>", bos_token="<s>", unk_token=None)
    tok.chat_template = chat_template
    return tok


LLAMA_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAMA_TEXT = [
    "Hello! How are you today? I am fine, thank you.",
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France? Paris is the capital of France.",
    "Write a short poem about the sea and the sky.",
    "user assistant system: answer the question in one word.",
]


def build_llama_tokenizer(out_dir: Path):
    """The export and chat models' tokenizer: Llama-style (metaspace BPE, byte fallback) with chatml tokens."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    def fresh(vocab=None, merges=None):
        tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
        return tok

    trained = fresh()
    trained.train_from_iterator(LLAMA_TEXT * 4, trainers.BpeTrainer(vocab_size=300, show_progress=False))
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
    fast.chat_template = LLAMA_CHATML
    fast.save_pretrained(out_dir)
    return fast


def build_chat_model(out_dir: Path, hidden: int = 64, intermediate: int = 128, seed: int = 0):
    """A random LlamaForCausalLM with the tiny tokenizer, saved in float32; returns its folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = build_llama_tokenizer(out_dir)
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

    build_chat_model(out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                        return_dict=True, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        answer = model.generate(ids, max_new_tokens=after + 1, do_sample=False)[0, ids.shape[1]:].tolist()
        model.lm_head.weight[tokenizer.eos_token_id] = model.lm_head.weight[answer[after]] * 1.1
    model.save_pretrained(out_dir)
    return Path(out_dir), tokenizer.decode(answer[:after], skip_special_tokens=True)


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
