"""The command line reads like llamafactory-cli's: options and key=value overrides in any order."""

import pytest

from lmftui.cli import build_parser, main


@pytest.mark.parametrize("argv, options, overrides", [
    (["train", "x.yaml", "--dry-run", "lora_rank=4"], {"dry_run": True}, ["lora_rank=4"]),
    (["train", "x.yaml", "a=1", "--detach", "b=2"], {"detach": True}, ["a=1", "b=2"]),
    (["data", "x.yaml", "--rows", "2", "a=1", "--json"], {"rows": 2, "json": True}, ["a=1"]),
    (["export", "e.yaml", "--progress-jsonl", "export_dir=o"], {"progress_jsonl": True}, ["export_dir=o"]),
    (["chat", "saves/x", "temperature=0.1", "--prompt", "hi"], {"prompt": "hi"}, ["temperature=0.1"]),
])
def test_options_anywhere(argv, options, overrides):
    args = build_parser()[0].parse_args(argv)
    assert args.overrides == overrides
    for key, value in options.items():
        assert getattr(args, key) == value


def test_dry_run_between_overrides_applies_them(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(f"model_name_or_path: {tiny_model_dir}\ndataset: tiny_identity\ndataset_dir: {tiny_data_dir}\n"
                    f"do_train: true\noutput_dir: {tmp_path / 'out'}\n")
    assert main(["train", str(path), "cutoff_len=77", "--dry-run", "per_device_train_batch_size=3"]) == 0
    out = capsys.readouterr().out
    assert "cutoff_len 77" in out and "batch           3 x 1" in out


def test_dry_run_of_a_hub_model_needs_no_download(tiny_data_dir, tmp_path, capsys):
    """A hub id's plan prints offline (the run fetches config and weights); a missing local folder still fails."""
    path = tmp_path / "c.yaml"
    path.write_text(f"model_name_or_path: someone/not-cached-model\ndo_train: true\ndataset: tiny_identity\n"
                    f"dataset_dir: {tiny_data_dir}\noutput_dir: {tmp_path / 'out'}\n")
    assert main(["train", str(path), "--dry-run"]) == 0
    assert "model shape     unknown (hub model" in capsys.readouterr().out
    assert main(["train", str(path), "--dry-run", f"model_name_or_path={tmp_path / 'nope'}"]) == 2
