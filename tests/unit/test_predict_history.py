"""The monitor's history of an evaluation-only run: predict progress instead of training steps."""

from __future__ import annotations

from lmftui.run_history import RunHistory


def test_predict_progress_replaces_the_step_counter():
    history = RunHistory()
    history.add({"type": "start", "stage": "sft", "max_steps": 0, "plan": {"mode": "predict"}})
    assert history.progress_text() == "no training"
    history.add({"type": "predict", "split": "predict", "rows_done": 3, "rows_total": 8, "eta_s": 75.0})
    assert history.progress_text() == "no training · predict 3/8 answers · ETA 1m15s"
    history.add({"type": "predict", "split": "predict", "rows_done": 8, "rows_total": 8,
                 "metrics": {"predict_bleu-4": 12.5, "predict_rouge-l": 30.0, "predict_samples_per_second": 2.0}})
    assert history.progress_text() == "no training"
    assert history.messages[-1] == ("predict", "predict: bleu-4 12.50, rouge-l 30.00")


def test_a_training_run_keeps_its_step_counter():
    history = RunHistory()
    history.add({"type": "start", "stage": "sft", "max_steps": 10})
    history.add({"type": "step", "step": 2, "max_steps": 10, "loss": 1.5})
    assert history.progress_text().startswith("step 2/10 · loss 1.5000")
    fresh = RunHistory()
    assert fresh.progress_text() == "step 0/?"
