"""Evaluation and prediction: LLaMA-Factory's metrics, batched generation, and base-versus-tuned comparison.

`metrics` is light (jieba, nltk, rouge-chinese, numpy); the rest imports torch when used.
"""
