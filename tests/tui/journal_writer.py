"""A journal writer for TUI reader tests (the real trainer is exercised in test_e2e.py): holds the run lock and writes a journal like the engine's.

Usage: python journal_writer.py RUN_DIR STEPS INTERVAL_S [error]
SIGTERM makes it write a checkpoint and `done` with status "stopped", as the real trainer does.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from pathlib import Path

from engine.events import EventWriter
from engine.rundir import RunLock

stop = False


def _term(signum, frame) -> None:
    global stop
    stop = True


def main(run_dir: Path, steps: int, interval: float, fail: bool = False) -> int:
    signal.signal(signal.SIGTERM, _term)
    with RunLock(run_dir):
        journal = EventWriter(run_dir)
        journal.emit("start", stage="sft", model="tiny-llama", max_steps=steps, num_examples=64,
                     plan={"method": "lora"}, estimate_gb=0.1)
        print("journal writer started", flush=True)
        for step in range(1, steps + 1):
            if stop:
                journal.emit("checkpoint", step=step - 1, path=str(run_dir / f"checkpoint-{step - 1}"))
                journal.emit("done", status="stopped", step=step - 1, train_loss=1.0, runtime_s=1.0,
                             output=str(run_dir))
                print("stopped on request", flush=True)
                return 0
            journal.emit("step", step=step, max_steps=steps, epoch=step / steps, loss=2.0 * math.exp(-step / 50) + 0.1,
                         lr=1e-4, grad_norm=1.0, tokens_per_s=1000.0, mem_gb=0.5, eta_s=(steps - step) * interval,
                         elapsed_s=step * interval)
            print(f"step {step}/{steps}", flush=True)
            time.sleep(interval)
        if fail:
            journal.emit("error", message="CUDA out of memory", fix="lower per_device_train_batch_size")
            return 1
        journal.emit("done", status="done", step=steps, train_loss=0.2, runtime_s=steps * interval,
                     output=str(run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), len(sys.argv) > 4))
