"""Parameter counts of a `ModelShape` by layer type, and the linear layers adapters can target."""

from __future__ import annotations

from dataclasses import dataclass

from .shape import ModelShape


@dataclass(frozen=True)
class Linear:
    """A linear layer of every decoder block (`count` copies in the model); `part` is self_attn or mlp."""

    name: str
    in_features: int
    out_features: int
    count: int
    part: str
    bias: bool = False

    @property
    def params(self) -> int:
        return self.count * (self.in_features + int(self.bias)) * self.out_features


@dataclass(frozen=True)
class ParamCount:
    """Parameters by layer type; `linears` are the nn.Linear layers inside the blocks (no lm_head)."""

    embeddings: int
    lm_head: int
    attention: int
    mlp: int
    experts: int
    router: int
    norms: int
    linears: tuple[Linear, ...]

    @property
    def total(self) -> int:
        return self.embeddings + self.lm_head + self.attention + self.mlp + self.experts + self.router + self.norms

    @property
    def linear_params(self) -> int:
        """Weights bitsandbytes quantizes: the block linears and the MoE experts."""
        return sum(lin.params for lin in self.linears) + self.experts


def attention_linears(s: ModelShape) -> list[Linear]:
    """q/k/v/o projections, with grouped-query (fewer k/v heads) or DeepSeek's latent (MLA) form."""
    n, h = s.num_layers, s.hidden_size
    if s.kv_lora_rank:
        nope = s.head_dim - s.qk_rope_head_dim
        q = ([Linear("q_a_proj", h, s.q_lora_rank, n, "self_attn"),
              Linear("q_b_proj", s.q_lora_rank, s.num_heads * s.head_dim, n, "self_attn")]
             if s.q_lora_rank else [Linear("q_proj", h, s.num_heads * s.head_dim, n, "self_attn")])
        return q + [Linear("kv_a_proj_with_mqa", h, s.kv_lora_rank + s.qk_rope_head_dim, n, "self_attn"),
                    Linear("kv_b_proj", s.kv_lora_rank, s.num_heads * (nope + s.v_head_dim), n, "self_attn"),
                    Linear("o_proj", s.num_heads * s.v_head_dim, h, n, "self_attn")]
    q, kv = s.num_heads * s.head_dim, s.num_kv_heads * s.head_dim
    return [Linear("q_proj", h, q, n, "self_attn", s.qkv_bias), Linear("k_proj", h, kv, n, "self_attn", s.qkv_bias),
            Linear("v_proj", h, kv, n, "self_attn", s.qkv_bias), Linear("o_proj", q, h, n, "self_attn", s.o_bias)]


def mlp_linears(s: ModelShape) -> list[Linear]:
    """Gated MLPs of dense layers and the shared experts of MoE layers (routed experts are fused, not Linear)."""
    h = s.hidden_size
    dense = s.dense_layers if s.is_moe else s.num_layers
    out = []
    for count, inter in ((dense, s.intermediate_size),
                         (s.num_layers - dense if s.is_moe else 0, s.shared_expert_intermediate_size)):
        if count and inter:
            b = s.mlp_bias
            out += [Linear("gate_proj", h, inter, count, "mlp", b), Linear("up_proj", h, inter, count, "mlp", b),
                    Linear("down_proj", inter, h, count, "mlp", b)]
    return out


def count_params(s: ModelShape) -> ParamCount:
    """Every parameter of the model, by layer type."""
    h = s.hidden_size
    moe_layers = s.num_layers - s.dense_layers if s.is_moe else 0
    attn, mlp = attention_linears(s), mlp_linears(s)
    norms = s.num_layers * 2 * h + h
    if s.qk_norm:
        norms += s.num_layers * 2 * s.head_dim
    if s.kv_lora_rank:
        norms += s.num_layers * (s.q_lora_rank + s.kv_lora_rank)
    embeddings = s.vocab_size * h
    return ParamCount(
        embeddings=embeddings, lm_head=0 if s.tie_word_embeddings else embeddings,
        attention=sum(lin.params for lin in attn), mlp=sum(lin.params for lin in mlp),
        experts=moe_layers * s.num_experts * 3 * h * s.moe_intermediate_size,
        router=moe_layers * s.num_experts * h, norms=norms, linears=tuple(attn + mlp))


def layer_params(s: ModelShape) -> int:
    """Parameters of the largest decoder block (what ZeRO-3 gathers at once)."""
    h = s.hidden_size
    attn = sum(lin.params for lin in attention_linears(s)) // s.num_layers
    dense = 3 * h * s.intermediate_size
    moe = s.num_experts * (3 * h * s.moe_intermediate_size + h) + 3 * h * s.shared_expert_intermediate_size
    mlp = max(dense if not s.is_moe or s.dense_layers else 0, moe if s.is_moe else 0)
    return attn + mlp + 2 * h
