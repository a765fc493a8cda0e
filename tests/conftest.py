"""Shared fixtures: a tiny random Llama with its tokenizer, and tiny data sets, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tiny import build_model_dir, write_dataset_dir

SHARED_DEMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "llamafactory-demo"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep runs, settings and caches of every test out of the user's folders."""
    home = tmp_path_factory.getbasetemp() / "lmf-home"
    monkeypatch.setenv("LMF_TUI_HOME", str(home))
    monkeypatch.setenv("LMF_TUI_RUNS", str(home / "runs"))
    if "LMF_TUI_CACHE" not in os.environ:
        monkeypatch.setenv("LMF_TUI_CACHE", str(tmp_path_factory.getbasetemp() / "lmf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random 2-layer Llama (hidden 64) and a byte-level BPE tokenizer with a chatml template."""
    return build_model_dir(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """tiny_identity (alpaca), tiny_chat (sharegpt) and tiny_text (pt) with dataset_info.json."""
    return write_dataset_dir(tmp_path_factory.mktemp("tiny-data"))


@pytest.fixture(scope="session")
def stage_data(tmp_path_factory) -> Path:
    """Preference pairs, KTO-tagged rows and prompts for the alignment stages (tests/stage_data.py)."""
    from tests.stage_data import write_stage_data

    return write_stage_data(tmp_path_factory.mktemp("stage-data"))


@pytest.fixture(scope="session")
def shared_demo() -> Path:
    """LLaMA-Factory's demo data sets beside the checkout; skips when absent."""
    if not (SHARED_DEMO / "dataset_info.json").exists():
        pytest.skip("../shared/data/llamafactory-demo is not present")
    return SHARED_DEMO


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real sshd on 127.0.0.1 (Debian's openssh-server), with ssh aliases loop-a and loop-b; stopped at the end."""
    from tests.sshd import SSHD, LoopbackSshd

    if SSHD is None:
        pytest.skip("openssh-server is not installed (make test installs it: apt-get install openssh-server rsync)")
    server = LoopbackSshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def ssh_env(sshd, monkeypatch, tmp_path):
    """The test sshd's client config (aliases, known_hosts) for every ssh that lmf-tui runs, and a home of
    this test's own (its saved hosts and remote-run records end with it)."""
    monkeypatch.setenv("LMF_TUI_SSH_CONFIG", str(sshd.config))
    monkeypatch.setenv("LMF_TUI_HOME", str(tmp_path / "lmf-home"))
    monkeypatch.setenv("LMF_TUI_RUNS", str(tmp_path / "lmf-home" / "runs"))
    return sshd
