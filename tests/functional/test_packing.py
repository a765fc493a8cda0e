"""Neat packing on a real tiny Llama: packed logits and loss equal the unpacked rows' (sdpa and eager)."""

from pathlib import Path

import pytest
import torch

from engine.config import TrainConfig
from engine.data import IGNORE_INDEX, build_datasets, make_collator
from tests.tiny import tiny_tokenizer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"


def tiny_llama(attn: str, vocab: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    return LlamaForCausalLM._from_config(config, attn_implementation=attn).eval()


def data(tok, **kw):
    return build_datasets(TrainConfig(dataset_dir=str(FIXTURES), dataset="alpaca_small,sharegpt_small,openai_small",
                                      cutoff_len=160, **kw), tok)


@pytest.mark.parametrize("attn, flash_attn", [("sdpa", "sdpa"), ("eager", "disabled")])
def test_neat_packing_matches_unpacked_rows(attn, flash_attn):
    tok = tiny_tokenizer()
    model = tiny_llama(attn, len(tok))
    unpacked = data(tok, packing=False)
    packed = data(tok, neat_packing=True)
    assert len(packed.train) < len(unpacked.train)
    examples = {tuple(r["input_ids"]): r for r in unpacked.train}
    rows = list(packed.train)
    batch = make_collator(TrainConfig(neat_packing=True, flash_attn=flash_attn), tok)(rows)
    plain_batch = make_collator(TrainConfig(padding_free=False), tok)(list(unpacked.train))
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    position_ids=batch["position_ids"], labels=batch["labels"])
        ref = model(**plain_batch)
    checked = 0
    for b, row in enumerate(rows):
        start = 0
        for n in row["seq_lens"]:
            ids = tuple(row["input_ids"][start:start + n])
            alone = model(input_ids=torch.tensor([ids])).logits[0]
            assert ids in examples
            torch.testing.assert_close(out.logits[b, start:start + n], alone, atol=1e-5, rtol=0)
            start += n
            checked += 1
    assert checked == len(unpacked.train)
    # Same targets counted: the mean loss over the packed batch equals the mean over the unpacked rows.
    n_packed = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
    n_plain = (plain_batch["labels"][:, 1:] != IGNORE_INDEX).sum()
    assert n_packed == n_plain == packed.report.tokens
    torch.testing.assert_close(out.loss, ref.loss, atol=1e-5, rtol=1e-5)


def test_plain_packing_trains_the_same_tokens():
    tok = tiny_tokenizer()
    unpacked = data(tok, packing=False)
    packed = data(tok, packing=True)
    batch = make_collator(TrainConfig(packing=True), tok)(list(packed.train))
    assert batch["attention_mask"].dim() == 2 and "position_ids" not in batch
    count = (batch["labels"][:, 1:] != IGNORE_INDEX).sum().item()
    assert count == unpacked.report.tokens == packed.report.tokens
