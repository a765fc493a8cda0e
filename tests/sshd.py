"""A real OpenSSH server on 127.0.0.1 for the remote-host tests: its own host key, client key,
authorized_keys, known_hosts and client config (the user's ~/.ssh is never touched)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

SSHD = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if Path(p).exists()), None)
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


class LoopbackSshd:
    """sshd on a free high port; `aliases` are ssh config names for it (two names = two 'hosts')."""

    def __init__(self, root: Path, aliases: tuple[str, ...] = ("loop-a", "loop-b")):
        self.root = root
        self.port = free_port()
        self.user = getpass.getuser()
        self.aliases = aliases
        self.host_key = keygen(root / "host_key")
        self.client_key = keygen(root / "client_key")
        self.authorized = root / "authorized_keys"
        self.authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        self.authorized.chmod(0o600)
        self.known_hosts = root / "known_hosts"
        self.config = root / "ssh_config"
        self.proc: subprocess.Popen | None = None
        self.write_client_config()

    def write_client_config(self) -> None:
        blocks = [f"Host {alias}\n  HostName 127.0.0.1\n  Port {self.port}\n  User {self.user}\n"
                  f"  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n" for alias in self.aliases]
        blocks.append(f"Host loop-jump\n  HostName 127.0.0.1\n  Port {self.port}\n  User {self.user}\n"
                      f"  IdentityFile {self.client_key}\n  IdentitiesOnly yes\n  ProxyJump {self.aliases[0]}\n")
        blocks.append(f"Host *\n  UserKnownHostsFile {self.known_hosts}\n  GlobalKnownHostsFile /dev/null\n")
        self.config.write_text("\n".join(blocks))

    def start(self) -> "LoopbackSshd":
        config = self.root / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
            f"PidFile {self.root / 'sshd.pid'}", "MaxStartups 50", "MaxSessions 50", ""]))
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log = open(self.root / "sshd.log", "ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()[-500:]}")
                time.sleep(0.1)
        raise RuntimeError("sshd did not start listening")

    def stop(self) -> None:
        """The listener and every session it forked (shared connections would keep those for minutes)."""
        import psutil

        if self.proc and self.proc.poll() is None:
            sessions = psutil.Process(self.proc.pid).children(recursive=True)
            self.proc.terminate()
            self.proc.wait(timeout=10)
            for session in sessions:
                try:
                    session.terminate()
                except psutil.Error:
                    pass
        self.log.close()

    def remote_python(self, name: str, home: Path) -> Path:
        """A 'python' for a loopback host: this venv's Python on this checkout, with its own lmf-tui home."""
        script = self.root / f"python-{name}"
        script.write_text("#!/bin/sh\n"
                          f"export PYTHONPATH='{REPO}' LMF_TUI_HOME='{home}' LMF_TUI_RUNS='{home}/runs' "
                          f"LMF_TUI_CACHE='{home}/cache' HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1\n"
                          f"exec '{sys.executable}' \"$@\"\n")
        script.chmod(0o755)
        return script
