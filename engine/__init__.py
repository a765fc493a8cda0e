"""Headless fine-tuning engine: config schema, data, models, stages, export, chat, hardware."""
