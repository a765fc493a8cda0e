"""`lmf-tui hosts` against a real sshd on 127.0.0.1: add, list, check, rm, and each bad input in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lmftui.hosts.remote import SshHost
from lmftui.hosts.store import HostSpec, hosts_path, load_hosts
from tests.remote.helpers import cli, one_line_error, tiny_config
from tests.sshd import keygen


@pytest.fixture
def remote_python(ssh_env, tmp_path):
    return ssh_env.remote_python("hosts", tmp_path / "remote-home")


def test_add_list_check_rm(ssh_env, remote_python):
    added = cli("hosts", "add", "box", "loop-a", "--python", str(remote_python))
    assert added.returncode == 0, added.stderr
    assert "CPU only" in added.stdout and "lmf-tui 0.1.0" in added.stdout
    assert load_hosts()["box"].destination == "loop-a"

    listed = json.loads(cli("hosts", "list", "--json").stdout)
    assert [h["name"] for h in listed if h["name"] == "box"] == ["box"]

    check = cli("hosts", "check", "box", "--json")
    assert check.returncode == 0, check.stderr
    facts = json.loads(check.stdout)
    assert facts["name"] == "box" and facts["reachable"] is True
    assert facts["gpus"] == [] and facts["lmf_tui"] == "0.1.0" and facts["python"].startswith("3.")
    assert facts["disk_free_gb"] > 0

    assert cli("hosts", "rm", "box").returncode == 0
    assert "box" not in load_hosts()
    assert "no host 'box'" in one_line_error(cli("hosts", "check", "box"))


def test_user_at_address_with_key_and_port(ssh_env, remote_python):
    """No config alias: destination, -i KEY and -p PORT as a user types them; the key's path is stored."""
    added = cli("hosts", "add", "direct", f"{ssh_env.user}@127.0.0.1", "-i", str(ssh_env.client_key),
                "-p", str(ssh_env.port), "--python", str(remote_python))
    assert added.returncode == 0, added.stderr
    spec = load_hosts()["direct"]
    assert spec.key == str(ssh_env.client_key) and spec.port == ssh_env.port
    assert "PRIVATE KEY" not in hosts_path().read_text()


def test_host_without_lmf_tui_reports_null(ssh_env):
    check = cli("hosts", "add", "bare", "loop-a", "--python", shutil.which("python3") or "/usr/bin/python3")
    assert check.returncode == 0, check.stderr
    facts = json.loads(cli("hosts", "check", "bare", "--json").stdout)
    assert facts["reachable"] and facts["lmf_tui"] is None


def test_unreachable_host(ssh_env):
    from tests.sshd import free_port

    error = one_line_error(cli("hosts", "add", "gone", "127.0.0.1", "-p", str(free_port())))
    assert "gone" in error and "cannot reach" in error and "port" in error
    assert "gone" not in load_hosts()


def test_wrong_key(ssh_env, tmp_path):
    other = keygen(tmp_path / "other_key")
    error = one_line_error(cli("hosts", "add", "wrongkey", f"{ssh_env.user}@127.0.0.1", "-p", str(ssh_env.port),
                               "-i", str(other)))
    assert "wrongkey" in error and "refused the login" in error and "-i KEY" in error


def test_key_readable_by_others_gets_the_chmod_hint(ssh_env, tmp_path):
    key = keygen(tmp_path / "open_key")
    key.chmod(0o644)
    proc = cli("hosts", "add", "openkey", f"{ssh_env.user}@127.0.0.1", "-p", str(ssh_env.port), "-i", str(key))
    assert f"chmod 400 {key}" in proc.stderr


def test_missing_key_file(ssh_env, tmp_path):
    error = one_line_error(cli("hosts", "add", "nokey", "loop-a", "-i", str(tmp_path / "absent.pem")))
    assert "does not exist" in error


def test_changed_host_key_stops_with_a_warning(ssh_env, tmp_path, monkeypatch):
    """A known_hosts entry with another key for the address: ssh refuses and we say why, never bypass it."""
    known = tmp_path / "known_hosts"
    fake = keygen(tmp_path / "fake_host_key")
    key_text = (tmp_path / "fake_host_key.pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{ssh_env.port} {' '.join(key_text)}\n")
    config = tmp_path / "ssh_config"
    config.write_text(ssh_env.config.read_text().replace(str(ssh_env.known_hosts), str(known)))
    monkeypatch.setenv("LMF_TUI_SSH_CONFIG", str(config))
    assert fake.exists()
    error = one_line_error(cli("hosts", "add", "moved", "loop-a"))
    assert "moved" in error and "CHANGED" in error and "ssh-keygen -R" in error


def test_host_without_python(ssh_env):
    error = one_line_error(cli("hosts", "add", "nopy", "loop-a", "--python", "/opt/no/python3"))
    assert "nopy" in error and "no Python" in error and "--python PATH" in error


def test_remote_commands_are_quoted_and_secrets_travel_in_the_environment(ssh_env, tmp_path):
    host = SshHost(HostSpec(name="q", destination="loop-a"))
    marker = tmp_path / "pwned"
    weird = f"a b; touch {marker}; $(touch {marker}) `touch {marker}`"
    out = host.ssh.run(["printf", "%s", weird]).stdout
    assert out == weird and not marker.exists()

    argv = host.ssh.argv(["sh", "-c", 'printf %s "$HF_TOKEN"'], env={"HF_TOKEN": "hf_secret"})
    assert not any("hf_secret" in word for word in argv)
    got = host.ssh.run(["sh", "-c", 'printf %s "$HF_TOKEN"'], env={"HF_TOKEN": "hf_secret value"}).stdout
    assert got == "hf_secret value"


def test_data_file_missing_locally(ssh_env, remote_python, tiny_model_dir, tmp_path):
    assert cli("hosts", "add", "datahost", "loop-a", "--python", str(remote_python)).returncode == 0
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text(json.dumps({"gone": {"file_name": "gone.json"}}))
    config = tiny_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out", dataset="gone")
    error = one_line_error(cli("train", str(config), "--host", "datahost"))
    assert "gone.json" in error and "does not exist" in error


def test_host_needs_lmf_tui_to_train(ssh_env, tiny_model_dir, tiny_data_dir, tmp_path):
    assert cli("hosts", "add", "bare2", "loop-a", "--python", shutil.which("python3")).returncode == 0
    config = tiny_config(tmp_path / "c.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "out")
    error = one_line_error(cli("train", str(config), "--host", "bare2"))
    assert "bare2" in error and "hosts setup bare2" in error


def test_ssh_client_missing_is_one_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    host = SshHost(HostSpec(name="x", destination="loop-a"))
    with pytest.raises(Exception, match="OpenSSH client is not installed"):
        host.ssh.run(["true"])
    assert subprocess  # the module is used by the helpers


def test_first_connection_shows_the_fingerprint_then_remembers_it(ssh_env, tmp_path, monkeypatch):
    config = tmp_path / "ssh_config"
    config.write_text(ssh_env.config.read_text().replace(str(ssh_env.known_hosts), str(tmp_path / "known")))
    monkeypatch.setenv("LMF_TUI_SSH_CONFIG", str(config))
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{ssh_env.host_key}.pub"], capture_output=True,
                                 text=True).stdout.split()[1]
    first = cli("hosts", "add", "fresh-key", "loop-a")
    assert first.returncode == 0, first.stderr
    assert "first connection to loop-a" in first.stdout and fingerprint in first.stdout
    assert "accept-new" in first.stdout and (tmp_path / "known").exists()
    again = cli("hosts", "add", "fresh-key", "loop-a")
    assert again.returncode == 0 and "first connection" not in again.stdout


def test_runs_of_an_unreachable_host_say_so(ssh_env):
    from lmftui.hosts.records import RemoteRun, write_record
    from lmftui.hosts.store import save_hosts
    from tests.sshd import free_port

    save_hosts({**load_hosts(), "offline": HostSpec(name="offline", destination="127.0.0.1", port=free_port())})
    write_record(RemoteRun(hosts=["offline"], path="/srv/runs/lost"))
    rows = {r["name"]: r for r in json.loads(cli("runs", "--json").stdout)}
    assert rows["lost@offline"]["status"] == "unreachable" and "cannot reach" in rows["lost@offline"]["message"]
    error = one_line_error(cli("attach", "lost@offline", "--once"))
    assert "offline" in error and "cannot reach" in error


def test_ssh_config_alias_with_proxyjump_is_honoured(ssh_env, remote_python):
    """HostName, Port, User, IdentityFile and ProxyJump come from the ssh config, as for `ssh loop-jump`."""
    assert cli("hosts", "add", "hop", "loop-a").returncode == 0  # the jump host is known, as it is to its user
    added = cli("hosts", "add", "jumped", "loop-jump", "--python", str(remote_python))
    assert added.returncode == 0, added.stderr
    facts = json.loads(cli("hosts", "check", "jumped", "--json").stdout)
    assert facts["reachable"] and facts["lmf_tui"] == "0.1.0"


def test_only_the_files_a_run_uses_are_sent_and_paths_rewritten(ssh_env, remote_python, tiny_model_dir,
                                                                tiny_data_dir, tmp_path):
    import yaml

    from lmftui.hosts.store import get_host

    assert cli("hosts", "add", "ship", "loop-a", "--python", str(remote_python)).returncode == 0
    data = tmp_path / "data with space"
    shutil.copytree(tiny_data_dir, data)
    (data / "unused.json").write_text("[]")
    from engine.config import load_config

    config = load_config(tiny_config(tmp_path / "c.yaml", tiny_model_dir, data, tmp_path / "out"))
    host = SshHost(get_host("ship"))
    remote_config = host.prepare(config)
    shipped = yaml.safe_load(host.ssh.run(["cat", remote_config]).stdout)
    remote_data = Path(shipped["dataset_dir"])
    assert sorted(p.name for p in remote_data.iterdir()) == ["dataset_info.json", "tiny_identity.json"]
    assert shipped["model_name_or_path"] != str(tiny_model_dir)
    assert (Path(shipped["model_name_or_path"]) / "config.json").exists()
    assert shipped["output_dir"] == str(tmp_path / "remote-home" / "runs" / "out")
    inode = (remote_data / "tiny_identity.json").stat().st_ino
    host.prepare(config)  # unchanged: rsync sends nothing again (a sent file lands as a new inode)
    assert (remote_data / "tiny_identity.json").stat().st_ino == inode
