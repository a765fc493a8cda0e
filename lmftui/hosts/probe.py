"""Small stdlib-only Python programs run on a host with `python -c` (they work before lmf-tui is there)."""

from __future__ import annotations

# Prints one JSON object: Python, lmf-tui version, GPUs (NVML through lmf-tui, else nvidia-smi), disk, rsync.
FACTS = r'''
import json, os, platform, shutil, subprocess, sys
out = {"python": platform.python_version(), "python_path": sys.executable, "cpu_count": os.cpu_count(),
       "platform": platform.platform(), "rsync": shutil.which("rsync") is not None, "lmf_tui": None, "gpus": None}
try:
    import lmftui
    from engine.rundir import app_home, runs_root
    out.update(lmf_tui=lmftui.__version__, home=str(app_home()), runs_root=str(runs_root()))
    from engine.hardware import detect_hardware
    hw = detect_hardware()
    out["gpus"] = [{"name": g.name, "memory_gb": round(g.memory_total_gb, 1)} for g in hw.gpus]
    out["ram_gb"] = round(hw.ram_total_gb, 1)
except Exception as exc:
    out["lmf_tui_error"] = type(exc).__name__ + ": " + str(exc)[:200] if "lmftui" in sys.modules else None
if out["gpus"] is None:
    out["gpus"] = []
    if shutil.which("nvidia-smi"):
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=20).stdout
            for line in smi.splitlines():
                name, _, mib = line.rpartition(",")
                out["gpus"].append({"name": name.strip(), "memory_gb": round(float(mib) / 1024, 1)})
        except Exception:
            pass
out["nvidia_smi"] = shutil.which("nvidia-smi") is not None
where = out.get("home") or os.path.expanduser("~")
while not os.path.exists(where):
    where = os.path.dirname(where)
out["disk_free_gb"] = round(shutil.disk_usage(where).free / 2**30, 1)
print(json.dumps(out))
'''

# argv: RUN_DIR JOURNAL_OFFSET CONSOLE_OFFSET MAX_BYTES CONSOLE_NAME. Prints one JSON object: the new bytes of
# events.jsonl and console.log (base64; console -1 = start near its end), and whether a process
# holds the run's lock. Offsets only move forward when the caller has the answer, so nothing is lost.
POLL = r'''
import base64, fcntl, json, os, sys
run, ev_off, con_off, most, console = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def chunk(name, off):
    try:
        with open(os.path.join(run, name), "rb") as fh:
            size = fh.seek(0, 2)
            if off < 0:
                off = max(0, size - 65536)
            fh.seek(off)
            return off, fh.read(most)
    except FileNotFoundError:
        return max(off, 0), b""
def locked():
    try:
        fd = os.open(os.path.join(run, "run.lock"), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
running = locked()
ev_off, ev = chunk("events.jsonl", ev_off)
con_off, con = chunk(console, con_off)
print(json.dumps({"running": running, "exists": os.path.isdir(run), "events_offset": ev_off, "console_offset": con_off,
                  "events": base64.b64encode(ev).decode(), "console": base64.b64encode(con).decode()}))
'''

# argv: ADDRESS FIRST LAST. Prints the first TCP port of FIRST..LAST that ADDRESS can bind (the
# rendezvous of a multi-node run), or nothing when all are taken.
FREE_PORT = r'''
import socket, sys
addr, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for port in range(first, last + 1):
    with socket.socket() as sock:
        try:
            sock.bind((addr, port))
        except OSError:
            continue
        print(port)
        break
'''
