"""A machine reached over SSH as a Host: the same operations as LocalHost, run by the lmf-tui there."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import HostFacts, Poll
from .probe import FACTS, POLL
from .ssh import SshClient
from .store import HostError, HostSpec

if TYPE_CHECKING:
    from engine.config import TrainConfig

INPUTS = "inputs"  # under the host's lmf-tui folder: shipped data sets, models and configs
PULL_EXCLUDE = ["run.lock"]


class SshHost:
    """One saved host, over a shared OpenSSH connection."""

    def __init__(self, spec: HostSpec):
        self.spec = spec
        self.name = spec.name
        self.ssh = SshClient(spec)
        self._facts: HostFacts | None = None
        self.last_plan: ShipPlan | None = None  # what the last prepare() sent (its paths undo a pull)

    @property
    def python(self) -> str:
        return self.spec.python or "python3"

    def facts(self, refresh: bool = False) -> HostFacts:
        """Connect (with a timeout) and ask the host about itself; raises HostError when it cannot."""
        if self._facts is not None and not refresh:
            return self._facts
        proc = self.ssh.run([self.python, "-c", FACTS], check=False, timeout=60)
        if proc.returncode == 127 or "No such file or directory" in proc.stderr and proc.returncode != 0:
            raise HostError(f"{self.name}: no Python at '{self.python}' on {self.spec.destination} — install "
                            f"Python 3.11+ there, or name an existing one with `lmf-tui hosts add {self.name} "
                            f"{self.spec.destination} --python PATH`")
        try:
            data = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise HostError(f"{self.name}: '{self.python}' did not answer as Python 3 "
                            f"({(proc.stderr or proc.stdout).strip()[-160:]}) — give --python PATH of Python 3.11+") from None
        known = {k: v for k, v in data.items() if k in HostFacts.__dataclass_fields__}
        self._facts = HostFacts(name=self.name, reachable=True, **known)
        return self._facts

    def require_lmf_tui(self) -> HostFacts:
        """The facts of a host able to run lmf-tui, or a one-line HostError saying how to get there."""
        facts = self.facts()
        if tuple(int(x) for x in (facts.python or "0.0").split(".")[:2]) < (3, 11):
            raise HostError(f"{self.name}: Python {facts.python} is too old (3.11+ needed) — install a newer one "
                            "there and give it with --python PATH")
        if not facts.lmf_tui:
            raise HostError(f"{self.name}: lmf-tui is not installed for {self.python} — run "
                            f"`lmf-tui hosts setup {self.name}`, or give --python of an existing install")
        return facts

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        """Run `lmf-tui ARGS` there (as `python -m lmftui.cli`); its stdout."""
        return self.ssh.run([self.python, "-m", "lmftui.cli", *args], env=env, timeout=timeout).stdout

    # --- runs -----------------------------------------------------------------------------------
    def start_run(self, config: "TrainConfig", env: dict[str, str] | None = None) -> str:
        """Ship the inputs (only what changed), then `lmf-tui train --detach` there; the remote run folder."""
        remote_config = self.prepare(config)
        out = self.cli("train", remote_config, "--detach", env=env, timeout=300)
        return out.strip().splitlines()[-1].strip()

    def prepare(self, config: "TrainConfig", run_name: str | None = None, purpose: str = "train") -> str:
        """Copy the config's local inputs and write its host-side config; that config's path there."""
        from engine.config import config_to_dict, dump_yaml

        facts = self.require_lmf_tui()
        plan = ShipPlan.of(config, facts, run_name, purpose, host=self.name)
        for item in plan.items:
            self.ssh.copy_to(item.files, item.remote_dir, rsync=facts.rsync, relative_to=item.root)
        raw = config_to_dict(config.model_copy(update=plan.updates))
        target = plan.updates.get("output_dir") or plan.updates["export_dir"]
        path = f"{facts.home}/{INPUTS}/configs/{purpose}-{Path(target).name}.yaml"
        self.write_text(path, dump_yaml(raw))
        self.last_plan = plan
        return path

    def export(self, config: "TrainConfig", progress: bool = False) -> str:
        """Run `lmf-tui export` there on the host's GPU (its output streamed here); the export folder there."""
        remote_config = self.prepare(config, purpose="export")
        argv = self.ssh.argv([self.python, "-m", "lmftui.cli", "export", remote_config])

        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=None if progress else subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=6 * 3600)
        if proc.returncode == 255:
            raise HostError(self.ssh.explain(proc.stderr))
        if proc.returncode != 0:
            lines = (proc.stderr or "").strip().splitlines()
            raise HostError(f"{self.name}: export failed there: {lines[-1] if lines else f'exit code {proc.returncode}'}")
        return self.last_plan.updates["export_dir"]

    def write_text(self, path: str, text: str) -> None:
        """Write a small text file there, atomically (through stdin: no temporary local file)."""
        script = 'mkdir -p "$(dirname "$1")" && cat > "$1.tmp" && mv "$1.tmp" "$1"'
        argv = self.ssh.argv(["sh", "-c", script, "sh", path])

        proc = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=60)
        if proc.returncode == 255:
            raise HostError(self.ssh.explain(proc.stderr))
        if proc.returncode != 0:
            if "No space left" in proc.stderr:
                raise HostError(f"{self.name}: the disk is full — free space there (`df -h`) and retry")
            raise HostError(f"{self.name}: cannot write {path}: {proc.stderr.strip()[-200:]}")

    def poll(self, run: str, events_offset: int, console_offset: int, max_bytes: int = 1 << 20,
             console: str = "console.log") -> Poll:
        proc = self.ssh.run([self.python, "-c", POLL, run, str(events_offset), str(console_offset), str(max_bytes),
                             console], timeout=30)
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        return Poll(base64.b64decode(data["events"]), base64.b64decode(data["console"]), data["running"],
                    data["events_offset"], data["console_offset"])

    def stop(self, run: str) -> bool:
        """`lmf-tui stop RUN` there; False when nothing ran (a link failure is still a HostError)."""
        proc = self.ssh.run([self.python, "-m", "lmftui.cli", "stop", run], check=False, timeout=60)
        return proc.returncode == 0

    def list_runs(self) -> list[dict[str, Any]]:
        return json.loads(self.cli("runs", "--json"))

    def describe(self, run: str) -> str:
        """`lmf-tui attach RUN --once` there."""
        return self.cli("attach", run, "--once")

    def pull(self, run: str, dest: Path, checkpoints: bool = False, progress: bool = False) -> Path:
        exclude = PULL_EXCLUDE + ([] if checkpoints else ["checkpoint-*"])
        self.ssh.copy_from(run, dest, rsync=self.facts().rsync, exclude=exclude, progress=progress)
        return dest

    def disconnect(self) -> None:
        self.ssh.disconnect()


class ShipItem:
    """Files under one local root, sent to one folder on the host (relative layout kept)."""

    def __init__(self, root: Path, files: list[Path], remote_dir: str):
        self.root, self.files, self.remote_dir = root, files, remote_dir


class ShipPlan:
    """What a run needs sent to a host, and the config keys rewritten to where it lands there."""

    def __init__(self) -> None:
        self.items: list[ShipItem] = []
        self.updates: dict[str, Any] = {}
        self.local_paths: dict[str, str] = {}  # host path -> local path, to undo on pull

    @classmethod
    def of(cls, config: "TrainConfig", facts: HostFacts, run_name: str | None = None, purpose: str = "train",
           host: str | None = None) -> "ShipPlan":
        from engine.config import ConfigError, check_config
        from engine.data.dataset_info import INFO_FILE, data_files, resolve_datasets

        if problems := check_config(config, purpose):
            raise ConfigError(problems)
        plan = cls()
        inputs = f"{facts.home}/{INPUTS}"
        if purpose == "train" and config.dataset_dir != "ONLINE" and (config.dataset or config.eval_dataset):
            data_dir = Path(config.dataset_dir).resolve()
            attrs = resolve_datasets(config) + (resolve_datasets(config, "eval_dataset") if config.eval_dataset else [])
            files = [data_dir / INFO_FILE]
            for attr in attrs:
                if attr.load_from != "file":
                    continue
                source = Path(attr.source)
                if data_dir not in source.parents:
                    raise ConfigError(f"{attr.name}: {source} lies outside dataset_dir {data_dir} — move it into "
                                      "dataset_dir so it can be sent to the host")
                files += data_files(source)
            remote = f"{inputs}/data-{_digest(data_dir)}"
            plan.items.append(ShipItem(data_dir, sorted(set(files)), remote))
            plan.updates["dataset_dir"] = remote
            plan.local_paths[remote] = str(data_dir)
        for key in ("model_name_or_path", "adapter_name_or_path"):
            value = getattr(config, key, None)
            if not value or "," in str(value) or not Path(value).expanduser().exists():
                continue
            local = Path(value).expanduser().resolve()
            if (record := _record_on(local, host)) is not None:  # a run of that host: use it where it is
                plan.updates[key] = record
                continue
            remote_root = f"{inputs}/{key.split('_')[0]}-{_digest(local)}"
            files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
            root = local if local.is_dir() else local.parent
            plan.items.append(ShipItem(root, files, remote_root))
            target = remote_root if local.is_dir() else f"{remote_root}/{local.name}"
            plan.updates[key] = target
            plan.local_paths[target] = str(local)
        if purpose == "export":
            plan.updates["export_dir"] = f"{facts.home}/exports/{Path(config.export_dir or 'export').name}"
        else:
            plan.updates["output_dir"] = f"{facts.runs_root}/{run_name or Path(config.output_dir or 'run').name}"
        return plan


def _record_on(folder: Path, host: str | None) -> str | None:
    """The run's folder on `host` when `folder` is the local record of a run there."""
    from .records import read_record

    record = read_record(folder)
    return record.path if record is not None and host in record.hosts[:1] else None


def _digest(path: Path) -> str:
    return hashlib.sha1(str(path).encode()).hexdigest()[:10]
