"""GPU facts from the `nvidia-smi` command when NVML cannot be loaded in this process."""

from __future__ import annotations

import re
import shutil
import subprocess

from .info import GpuInfo, GpuProcess
from .visible import map_visible

GPU_FIELDS = ("index", "uuid", "name", "memory.total", "memory.used", "memory.free", "utilization.gpu",
              "temperature.gpu", "compute_cap", "driver_version")
APP_FIELDS = ("gpu_uuid", "pid", "process_name", "used_memory")
MIB_PER_GB = 1024


def run_smi(*args: str, timeout: float = 5.0) -> str | None:
    """stdout of `nvidia-smi ARGS`, None when it is missing, fails or hangs."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _value(text: str) -> str | None:
    text = text.strip()
    return None if not text or text.startswith("[") or text in ("N/A", "Not Supported") else text


def _number(text: str) -> float | None:
    try:
        return float(text) if (text := _value(text)) is not None else None
    except ValueError:
        return None


def parse_gpu_csv(text: str, fields: tuple[str, ...] = GPU_FIELDS) -> list[dict[str, str | None]]:
    """Rows of `nvidia-smi --query-gpu=FIELDS --format=csv,noheader,nounits` as dicts."""
    rows = []
    for line in text.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(fields):
            continue
        rows.append({f: _value(c) for f, c in zip(fields, cells)})
    return rows


def parse_apps_csv(text: str) -> dict[str, list[GpuProcess]]:
    """Processes by GPU UUID from `nvidia-smi --query-compute-apps=... --format=csv,noheader,nounits`."""
    out: dict[str, list[GpuProcess]] = {}
    for row in parse_gpu_csv(text, APP_FIELDS):
        if row["gpu_uuid"] and row["pid"] and row["pid"].isdigit():
            mib = _number(row["used_memory"] or "")
            out.setdefault(row["gpu_uuid"], []).append(GpuProcess(
                pid=int(row["pid"]), name=row["process_name"] or "?",
                memory_gb=None if mib is None else round(mib / MIB_PER_GB, 3)))
    return out


def parse_cuda_version(text: str) -> str | None:
    """The "CUDA Version: 12.4" of the plain `nvidia-smi` banner."""
    match = re.search(r"CUDA Version\s*:\s*([\d.]+)", text or "")
    return match.group(1) if match else None


def gpus_from_rows(rows: list[dict[str, str | None]], apps: dict[str, list[GpuProcess]],
                   env: str | None = None) -> list[GpuInfo]:
    """GpuInfo of each row that CUDA_VISIBLE_DEVICES shows, in CUDA order."""
    by_index = {int(r["index"]): r for r in rows if r["index"] and r["index"].isdigit()}
    visible = map_visible([(i, r["uuid"]) for i, r in by_index.items()], env)
    gpus = []
    for cuda_index, physical in enumerate(visible):
        r = by_index[physical]
        cc = r.get("compute_cap")
        gpus.append(GpuInfo(
            index=cuda_index, name=r["name"] or "NVIDIA GPU",
            memory_total_gb=round((_number(r["memory.total"] or "") or 0) / MIB_PER_GB, 3),
            memory_used_gb=_mib_to_gb(r["memory.used"]), memory_free_gb=_mib_to_gb(r["memory.free"]),
            utilization_pct=_number(r["utilization.gpu"] or ""), temperature_c=_number(r["temperature.gpu"] or ""),
            compute_capability=tuple(int(p) for p in cc.split(".")[:2]) if cc and re.fullmatch(r"\d+\.\d+", cc)
            else None,
            processes=apps.get(r["uuid"] or "", []), uuid=r["uuid"], nvml_index=physical))
    return gpus


def _mib_to_gb(text: str | None) -> float | None:
    mib = _number(text or "")
    return None if mib is None else round(mib / MIB_PER_GB, 3)


def _query_rows() -> list[dict[str, str | None]] | None:
    """The --query-gpu rows, asked again without compute_cap for drivers before 510; None without nvidia-smi."""
    for fields in (GPU_FIELDS, tuple(f for f in GPU_FIELDS if f != "compute_cap")):
        text = run_smi(f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits")
        if text is not None:
            return parse_gpu_csv(text, fields)
    return None


def smi_gpus() -> tuple[list[GpuInfo], str | None, str | None] | None:
    """(GPUs, driver version, CUDA version) from nvidia-smi; None when it is unavailable."""
    rows = _query_rows()
    if rows is None:
        return None
    apps = parse_apps_csv(run_smi(f"--query-compute-apps={','.join(APP_FIELDS)}",
                                  "--format=csv,noheader,nounits") or "")
    driver = rows[0]["driver_version"] if rows else None
    return gpus_from_rows(rows, apps), driver, parse_cuda_version(run_smi() or "")


def smi_memory() -> list[tuple[int, float | None, float | None, float | None, float | None]] | None:
    """(CUDA index, total, used, free GB, utilisation %) per visible GPU; None without nvidia-smi."""
    rows = _query_rows()
    if rows is None:
        return None
    return [(g.index, g.memory_total_gb, g.memory_used_gb, g.memory_free_gb, g.utilization_pct)
            for g in gpus_from_rows(rows, {})]
