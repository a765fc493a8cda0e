"""`hosts setup`: the wheel built here, the steps planned for the host, and the hosts it refuses in one line."""

from __future__ import annotations

import zipfile

import pytest

from lmftui.hosts.base import HostFacts
from lmftui.hosts.setup import build_wheel, check_ready, setup_steps
from lmftui.hosts.store import HostError
from tests.remote.helpers import cli


def test_wheel_holds_the_app_and_the_engine(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "lmftui/cli.py" in names and "engine/__main__.py" in names and "lmftui/hosts/setup.py" in names


def test_steps_pick_the_cuda_or_cpu_torch_and_quote_the_python():
    cpu = setup_steps(HostFacts(name="h", reachable=True, python="3.12"), "lmf_tui-0.1.0-py3-none-any.whl",
                      "/opt/my python/bin/python3")
    assert cpu[0][1].startswith("'/opt/my python/bin/python3' -m venv")
    assert "download.pytorch.org/whl/cpu" in cpu[2][1]
    gpu = setup_steps(HostFacts(name="h", reachable=True, python="3.12", gpus=[{"name": "H100", "memory_gb": 80}]),
                      "x.whl", "python3")
    assert gpu[2][1].endswith("install -q torch")


@pytest.mark.parametrize("facts, words", [
    (HostFacts(name="old", reachable=True, python="3.8.10", disk_free_gb=100), ("old", "3.8.10", "too old")),
    (HostFacts(name="full", reachable=True, python="3.12.3", disk_free_gb=1.5), ("full", "1.5 GB free", "free space")),
])
def test_old_python_or_full_disk_is_one_line(facts, words):
    with pytest.raises(HostError) as info:
        check_ready(facts)
    assert all(w in str(info.value) for w in words) and "\n" not in str(info.value)


def test_setup_dry_run_over_ssh(ssh_env):
    assert cli("hosts", "add", "fresh", "loop-a", "--python", "python3").returncode == 0
    dry = cli("hosts", "setup", "fresh", "--dry-run", timeout=600)
    assert dry.returncode == 0, dry.stderr
    assert "create the venv" in dry.stdout and "install CPU torch" in dry.stdout and "lmf_tui-" in dry.stdout
