"""Files that are not training configs, given to `train`, are named in one line with what to run instead."""

import pytest

from lmftui.cli import main

ACCELERATE = "compute_environment: LOCAL_MACHINE\ndistributed_type: FSDP\nmixed_precision: bf16\nnum_processes: 2\n"
V1 = "model: Qwen/Qwen3-0.6B\nmodel_class: llm\ntrain_dataset: data/v1_sft_demo.yaml\noutput_dir: o\nmicro_batch_size: 2\n"
INFERENCE = "model_name_or_path: some/model\nadapter_name_or_path: saves/lora\ntemplate: chatml\ninfer_backend: huggingface\n"
MERGE = "model_name_or_path: some/model\nadapter_name_or_path: saves/lora\nexport_dir: merged\nexport_size: 5\n"
NOTHING = "model_name_or_path: some/model\ndataset: identity\noutput_dir: o\n"
TOKENS = "<|START_OF_SVG|>: start of an svg\n<|END_OF_SVG|>: end of an svg\n"


@pytest.mark.parametrize("text, words", [
    (ACCELERATE, "this is an accelerate config file (compute_environment, distributed_type)"),
    (V1, "this is a LLaMA-Factory v1 config (model:, model_class:)"),
    (INFERENCE, "this is an inference config (a model, no data set, no output_dir), not a training config — "
                "run `lmf-tui chat` with it"),
    (MERGE, "this is a merge/export config (export_dir, no do_train), not a training config — run `lmf-tui export`"),
    (NOTHING, "do_train: the config does nothing"),
    (TOKENS, "this is a special-token description file (LLaMA-Factory's new_special_tokens_config)"),
])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_other_files_are_refused_in_one_line(tmp_path, capsys, text, words, dry_run):
    path = tmp_path / "c.yaml"
    path.write_text(text.replace("output_dir: o", f"output_dir: {tmp_path / 'o'}"))
    assert main(["train", str(path), *dry_run]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err, err
    assert not (tmp_path / "o").exists()  # nothing written for a config that cannot run


def test_inference_and_merge_files_still_work_where_they_belong(tmp_path):
    from engine.config import load_config

    for text, purpose in ((INFERENCE, "chat"), (MERGE, "export")):
        path = tmp_path / f"{purpose}.yaml"
        path.write_text(text)
        assert load_config(path, purpose=purpose).model_name_or_path == "some/model"


def test_lf_examples_script_reports_each_file(tmp_path, tiny_model_dir):
    import subprocess
    import sys
    from pathlib import Path

    from tests.tiny import write_llamafactory_like_dir

    write_llamafactory_like_dir(tmp_path / "data")  # LLaMA-Factory's layout: examples/ beside data/
    examples = tmp_path / "examples"
    (examples / "train_lora").mkdir(parents=True)
    (examples / "train_lora" / "sft.yaml").write_text(
        f"model_name_or_path: {tiny_model_dir}\nstage: sft\ndo_train: true\ndataset: tiny_identity\n"
        "output_dir: saves/x\n")
    (examples / "inference.yaml").write_text(INFERENCE)
    script = Path(__file__).resolve().parents[2] / "bench" / "lf_examples.py"
    done = subprocess.run([sys.executable, str(script), str(examples)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "pass     train_lora/sft.yaml" in done.stdout and "refused  inference.yaml  — this is an inference" \
        in done.stdout and "2 examples: 1 pass, 1 refused" in done.stdout
