"""The system OpenSSH client, shared connections (ControlMaster), quoted remote commands, rsync/scp copies.

Every remote command is built from a list of words with `shlex.join`, so a path or value holding
spaces or shell characters is one word on the host and never runs anything. Host keys are verified
with `accept-new` semantics: a first connection adds the key, a changed key stops with a warning.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from .store import HostError, HostSpec

CONNECT_TIMEOUT_S = 10
CONTROL_PERSIST_S = 600
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Read `NAME=value` lines from stdin into the environment, then run the command: secrets never
# appear in a command line, a file or a log on either side.
ENV_FROM_STDIN = 'while IFS= read -r kv; do export "$kv"; done; exec '


def control_dir() -> Path:
    """A private folder for the ControlMaster sockets (short: a socket path has ~100 bytes)."""
    path = Path(tempfile.gettempdir()) / f"lmf-tui-ssh-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class SshClient:
    """Runs commands on, and copies files to and from, one saved host."""

    def __init__(self, spec: HostSpec, connect_timeout: int = CONNECT_TIMEOUT_S):
        self.spec = spec
        self.connect_timeout = connect_timeout

    @property
    def name(self) -> str:
        return self.spec.name

    def options(self) -> list[str]:
        """ssh options (without the destination): the user's config, verified host keys, one shared link."""
        args: list[str] = []
        if config := os.environ.get("LMF_TUI_SSH_CONFIG"):
            args += ["-F", config]
        args += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
                 "-o", f"ConnectTimeout={self.connect_timeout}", "-o", "ControlMaster=auto",
                 "-o", f"ControlPath={self.control_path()}", "-o", f"ControlPersist={CONTROL_PERSIST_S}",
                 "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
        if self.spec.key:
            args += ["-i", str(Path(self.spec.key).expanduser()), "-o", "IdentitiesOnly=yes"]
        if self.spec.port:
            args += ["-p", str(self.spec.port)]
        return args

    def control_path(self) -> str:
        """One shared connection per saved host (and key): another key never rides on this login."""
        tag = hashlib.sha1(f"{self.spec.name}\0{self.spec.key}".encode()).hexdigest()[:8]
        return f"{control_dir()}/{tag}-%C"

    def argv(self, words: list[str], env: dict[str, str] | None = None) -> list[str]:
        """The local ssh command line that runs `words` (quoted) on the host."""
        command = shlex.join(words)
        if env:
            command = ENV_FROM_STDIN + command
        return ["ssh", *self.options(), "--", self.spec.destination, command]

    def run(self, words: list[str], *, env: dict[str, str] | None = None, timeout: float = 120,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run a command on the host; a failed connection (or, with check, a failed command) is a HostError."""
        stdin = None
        if env:
            bad = [k for k in env if not ENV_NAME_RE.match(k) or "\n" in env[k]]
            if bad:
                raise HostError(f"{self.name}: environment variable {bad[0]!r} cannot be sent — use a plain NAME=value")
            stdin = "".join(f"{k}={v}\n" for k, v in env.items())
        try:
            proc = subprocess.run(self.argv(words, env), input=stdin if env else None, capture_output=True,
                                  text=True, timeout=timeout, stdin=None if env else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise HostError(f"{self.name}: no answer from {self.spec.destination} within {timeout:.0f} s — "
                            "check the network, then `lmf-tui hosts check " + self.name + "`") from None
        except FileNotFoundError:
            raise HostError("ssh: the OpenSSH client is not installed — install it (e.g. apt install "
                            "openssh-client)") from None
        if proc.returncode == 255:
            raise HostError(self.explain(proc.stderr))
        if check and proc.returncode != 0:
            raise HostError(f"{self.name}: `{shlex.join(words)[:120]}` failed: {last_line(proc.stderr or proc.stdout)}")
        return proc

    def explain(self, stderr: str) -> str:
        """One line from what ssh said when it could not connect."""
        dest, name = self.spec.destination, self.name
        text = stderr or ""
        if "IDENTIFICATION HAS CHANGED" in text:
            host = dest.rsplit("@", 1)[-1]
            return (f"{name}: the host key of {dest} has CHANGED since it was first trusted (a rebuilt machine, "
                    f"or someone in the middle) — if you expect it, run `ssh-keygen -R {host}` and check again")
        if "Host key verification failed" in text:
            return (f"{name}: the host key of {dest} (or of its ProxyJump host) could not be verified — "
                    f"connect once with `ssh {dest}` to check and accept its fingerprint, then check again")
        if "UNPROTECTED PRIVATE KEY" in text or "bad permissions" in text:
            return f"{name}: ssh refuses the key {self.spec.key} (readable by others) — run `chmod 400 {self.spec.key}`"
        if "Permission denied" in text:
            key = self.spec.key or "your ssh keys"
            return (f"{name}: {dest} refused the login with {key} — check the user name and the key (-i KEY); "
                    "a key with a passphrase must be loaded with `ssh-add`")
        if "Could not resolve hostname" in text:
            return f"{name}: cannot resolve the address of {dest} — check the name or IP"
        for reason in ("Connection refused", "Connection timed out", "No route to host", "Network is unreachable",
                       "Operation timed out", "Connection closed", "Connection reset"):
            if reason in text:
                return (f"{name}: cannot reach {dest} ({reason.lower()}) — check the address and port, "
                        "that the machine is running and that its firewall lets SSH in")
        return f"{name}: ssh to {dest} failed: {last_line(text) or 'no message'}"

    def resolved(self) -> dict[str, str]:
        """What ssh makes of the destination (`ssh -G`): hostname, port, known hosts files, proxies."""
        proc = subprocess.run(["ssh", *self.options(), "-G", "--", self.spec.destination], capture_output=True,
                              text=True, timeout=15, stdin=subprocess.DEVNULL)
        out: dict[str, str] = {}
        for line in proc.stdout.splitlines():
            key, _, value = line.partition(" ")
            out.setdefault(key.lower(), value.strip())
        return out

    def first_contact(self) -> list[str] | None:
        """The fingerprints a host presents when its key is not in known_hosts yet; None when it is known
        (or sits behind a proxy, where ssh itself shows it)."""
        cfg = self.resolved()
        if cfg.get("proxyjump", "none") != "none" or cfg.get("proxycommand", "none") != "none":
            return None
        host, port = cfg.get("hostname", ""), cfg.get("port", "22")
        if not host:
            return None
        entry = host if port == "22" else f"[{host}]:{port}"
        for known in cfg.get("userknownhostsfile", "").split():
            path = Path(known).expanduser()
            if path.exists() and subprocess.run(["ssh-keygen", "-F", entry, "-f", str(path)], capture_output=True,
                                                timeout=15).returncode == 0:
                return None
        try:
            scan = subprocess.run(["ssh-keyscan", "-p", port, "-T", str(self.connect_timeout), host],
                                  capture_output=True, text=True, timeout=self.connect_timeout + 10)
            prints = subprocess.run(["ssh-keygen", "-lf", "-"], input=scan.stdout, capture_output=True, text=True,
                                    timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return [line for line in prints.stdout.splitlines() if line.strip()] or None

    def disconnect(self) -> None:
        """Close the shared connection (a later command opens a new one)."""
        subprocess.run(["ssh", *self.options(), "-O", "exit", "--", self.spec.destination],
                       capture_output=True, timeout=15, stdin=subprocess.DEVNULL)

    def copy_to(self, sources: list[Path], remote_dir: str, *, rsync: bool, relative_to: Path | None = None,
                timeout: float = 3600) -> None:
        """Copy files or folders into `remote_dir` (created); rsync sends only what changed."""
        self.run(["mkdir", "-p", remote_dir])
        if rsync and shutil.which("rsync"):
            args = ["rsync", "-a", "--partial", "-e", shlex.join(["ssh", *self.options()])]
            if relative_to is not None:
                listing = "\n".join(str(p.relative_to(relative_to)) for p in sources) + "\n"
                args += ["--files-from=-", str(relative_to) + "/", f"{self.spec.destination}:{remote_dir}/"]
                self._copy(args, listing, timeout)
            else:
                self._copy([*args, *(str(p) for p in sources), f"{self.spec.destination}:{remote_dir}/"], None, timeout)
            return
        if relative_to is not None:
            for sub in sorted({str(p.relative_to(relative_to).parent) for p in sources} - {"."}):
                self.run(["mkdir", "-p", f"{remote_dir}/{sub}"])
            for p in sources:
                target = f"{remote_dir}/{p.relative_to(relative_to)}"
                self._copy(["scp", "-r", "-q", *self._scp_options(), str(p), f"{self.spec.destination}:{target}"],
                           None, timeout)
            return
        self._copy(["scp", "-r", "-q", *self._scp_options(), *(str(p) for p in sources),
                    f"{self.spec.destination}:{remote_dir}/"], None, timeout)

    def copy_from(self, remote_path: str, local_dir: Path, *, rsync: bool, exclude: list[str] | None = None,
                  timeout: float = 3600, progress: bool = False) -> None:
        """Copy a remote folder's contents into `local_dir` (rsync: only what changed, minus `exclude`);
        with `progress`, rsync's progress line goes to the terminal."""
        local_dir.mkdir(parents=True, exist_ok=True)
        if rsync and shutil.which("rsync"):
            args = ["rsync", "-a", "--partial", "-e", shlex.join(["ssh", *self.options()])]
            args += [f"--exclude={pattern}" for pattern in exclude or []]
            args += ["--info=progress2"] if progress else []
            self._copy([*args, f"{self.spec.destination}:{remote_path}/", f"{local_dir}/"], None, timeout,
                       show_output=progress)
            return
        names = self.run(["ls", "-A", remote_path]).stdout.split("\n")
        keep = [n for n in names if n and not any(fnmatch.fnmatch(n, pat) for pat in exclude or [])]
        if keep:
            self._copy(["scp", "-r", "-q", *self._scp_options(),
                        *(f"{self.spec.destination}:{remote_path}/{n}" for n in keep), f"{local_dir}/"], None, timeout)

    def _scp_options(self) -> list[str]:
        opts = self.options()
        return [("-P" if opt == "-p" else opt) for opt in opts]

    def _copy(self, argv: list[str], stdin: str | None, timeout: float, show_output: bool = False) -> None:
        try:
            proc = subprocess.run(argv, input=stdin, stdout=None if show_output else subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, timeout=timeout,
                                  stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise HostError(f"{self.name}: copying timed out after {timeout:.0f} s — check the link and retry") from None
        if proc.returncode != 0:
            if "No space left" in proc.stderr:
                raise HostError(f"{self.name}: the disk is full — free space there (`df -h`) and retry")
            if proc.returncode == 255 or "connection unexpectedly closed" in proc.stderr:
                raise HostError(self.explain(proc.stderr))
            raise HostError(f"{self.name}: {argv[0]} failed: {last_line(proc.stderr)}")


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
