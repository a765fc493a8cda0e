"""Saved SSH hosts: name, destination, key path (never its content), port, remote python (torch-free)."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import platformdirs
from pydantic import BaseModel, Field, ValidationError

HOSTS_FILE = "hosts.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCAL = "local"


class HostError(RuntimeError):
    """A host cannot be used as asked; the message is one line naming the host and a fix."""


class HostSpec(BaseModel):
    """One saved host, as `lmf-tui hosts add` wrote it."""

    name: str = Field(description="Short name used by --host and the app.")
    destination: str = Field(description="user@address, or an alias of ~/.ssh/config (HostName, User, "
                                         "Port, IdentityFile and ProxyJump are honoured).")
    key: str | None = Field(None, description="Private key file path (the file stays where it is).")
    port: int | None = Field(None, ge=1, le=65535, description="SSH port, when not the config's or 22.")
    python: str | None = Field(None, description="Python of an existing lmf-tui install on the host.")


def config_home() -> Path:
    """lmf-tui's config folder: $LMF_TUI_HOME, else the platform's user config dir."""
    return Path(os.environ.get("LMF_TUI_HOME") or platformdirs.user_config_dir("lmf-tui", appauthor=False))


def hosts_path() -> Path:
    return config_home() / HOSTS_FILE


def load_hosts(path: Path | None = None) -> dict[str, HostSpec]:
    """Saved hosts by name; an unreadable file is a one-line HostError."""
    path = path or hosts_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HostError(f"{path}: cannot read the hosts file ({exc}) — fix or delete it") from None
    try:
        return {item["name"]: HostSpec.model_validate(item) for item in raw.get("hosts", [])}
    except (ValidationError, KeyError, TypeError, AttributeError) as exc:
        raise HostError(f"{path}: not a hosts file ({type(exc).__name__}) — fix or delete it") from None


def save_hosts(hosts: dict[str, HostSpec], path: Path | None = None) -> Path:
    """Write the hosts file atomically."""
    from engine.config import atomic_write_text

    data = {"hosts": [h.model_dump(exclude_none=True) for h in hosts.values()]}
    return atomic_write_text(path or hosts_path(), json.dumps(data, indent=2) + "\n")


def check_name(name: str) -> str:
    if name == LOCAL or not NAME_RE.match(name):
        raise HostError(f"host name '{name}': use letters, digits, '.', '_' or '-' (and not '{LOCAL}')")
    return name


def get_host(name: str) -> HostSpec:
    """A saved host by name, or a HostError listing the known ones."""
    hosts = load_hosts()
    if name not in hosts:
        known = ", ".join(sorted(hosts)) or "none yet"
        raise HostError(f"no host '{name}' (known: {known}) — add it with `lmf-tui hosts add {name} USER@ADDRESS`")
    return hosts[name]


def key_warning(key: str | os.PathLike) -> str | None:
    """A hint when a private key is missing or readable by others (ssh refuses such keys)."""
    path = Path(key).expanduser()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"key file {path} does not exist — give the path of your private key (-i)"
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"key file {path} is readable by others and ssh will refuse it — run `chmod 400 {path}`"
    return None
