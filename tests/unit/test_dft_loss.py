"""The DFT loss: each answer token's cross entropy times its detached probability, LLaMA-Factory's reduction."""

from __future__ import annotations

import math

import torch

from engine.train.losses import dft_loss


def by_hand(logits, labels):
    terms = []
    for b in range(labels.shape[0]):
        for t in range(labels.shape[1] - 1):
            target = int(labels[b, t + 1])
            if target != -100:
                logp = torch.log_softmax(logits[b, t], -1)[target].item()
                terms.append(-logp * math.exp(logp))
    return terms


def test_dft_loss_matches_the_definition_and_only_weights_are_detached():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 11, requires_grad=True)
    labels = torch.tensor([[-100, -100, 3, 4, 5, 6], [-100, 1, 2, -100, -100, -100]])
    terms = by_hand(logits.detach(), labels)
    mean = dft_loss({"logits": logits}, labels)
    assert abs(mean.item() - sum(terms) / len(terms)) < 1e-5
    summed = dft_loss({"logits": logits}, labels, num_items_in_batch=torch.tensor(10))
    assert abs(summed.item() - sum(terms) / 10) < 1e-5
    summed.backward()  # the gradient is that of p.detach() * CE: it pushes every answer token's probability up
    target_grads = [logits.grad[0, 1, 3], logits.grad[1, 0, 1]]
    assert all(g < 0 for g in target_grads)
