"""The machine's GPUs, CPU and memory as the home screen shows them."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


def describe_hardware(hw: Any) -> str:
    """Lines of Textual markup for a HardwareInfo (or 'detecting…' while it is None)."""
    if hw is None:
        return "[dim]detecting hardware…[/]"
    lines = []
    for i, gpu in enumerate(getattr(hw, "gpus", []) or []):
        total = getattr(gpu, "memory_total_gb", 0) or 0
        used = getattr(gpu, "memory_used_gb", 0) or 0
        bf16 = " bf16" if getattr(gpu, "bf16", False) else ""
        lines.append(f"[b]GPU{i}[/] {getattr(gpu, 'name', '?')} · {used:.1f}/{total:.1f} GB{bf16}")
    if not lines:
        lines.append("[b]GPU[/] none — CPU training (small models only)")
    cpus = getattr(hw, "cpu_count", "?")
    ram = getattr(hw, "ram_total_gb", 0) or 0
    lines.append(f"[b]CPU[/] {cpus} cores · {ram:.0f} GB RAM · backend {getattr(hw, 'backend', '?')}")
    return "\n".join(lines)


class HardwarePanel(Static):
    """Shows a HardwareInfo; call `show(hw)` when detection finishes."""

    def __init__(self, hw: Any = None, **kw: Any):
        super().__init__(describe_hardware(hw), **kw)
        self.border_title = "Hardware"

    def show(self, hw: Any) -> None:
        self.update(describe_hardware(hw))
