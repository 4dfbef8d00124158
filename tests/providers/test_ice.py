"""ICE servers for browsers (providers/ice.py): TURN credentials checked by a real coturn on
127.0.0.1 with turnutils_uclient, and the TURN settings production refuses."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devtools.localservers import free_port, stop_process, wait_for_port
from providers.ice import ice_servers_for, turn_configured, turn_credential
from tests.core.test_settings_and_ops import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]

TURN_SECRET = "Tq7Wx2Lk9Zr4Vb1Nc8Hm5Jd3Pf6Gs0Ya"
UCLIENT_TIMEOUT = 20


@pytest.fixture(scope="module")
def coturn():
    """A coturn with use-auth-secret (the TURN REST scheme), listening and relaying on 127.0.0.1
    only, with its own database file; stopped when the module's tests are done."""
    root = Path(tempfile.mkdtemp(prefix="convene-coturn-"))
    port = free_port()
    relay_low = 40000 + port % 20000
    process = subprocess.Popen(
        [
            shutil.which("turnserver") or "/usr/bin/turnserver",
            "-n",
            "--use-auth-secret",
            f"--static-auth-secret={TURN_SECRET}",
            "--realm=convene.test",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            f"--min-port={relay_low}",
            f"--max-port={relay_low + 50}",
            "--allow-loopback-peers",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--no-software-attribute",
            f"--userdb={root / 'turndb'}",
            f"--log-file={root / 'turn.log'}",
            "--simple-log",
            "--no-stdout-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 15)
        yield port
    finally:
        stop_process(process)
        shutil.rmtree(root, ignore_errors=True)


def allocate(port: int, username: str, credential: str) -> subprocess.CompletedProcess:
    """turnutils_uclient: allocate a relay with these credentials and send one message through it
    to its own second relay (-y); exit status 0 only when the allocation and the relay worked."""
    command = ["turnutils_uclient", "-y", "-n", "1", "-m", "1", "-c", "-u", username, "-w", credential]
    return subprocess.run(
        [*command, "-p", str(port), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=UCLIENT_TIMEOUT,
    )


@pytest.fixture
def turn_settings(settings, coturn):
    settings.TURN_URLS = [f"stun:127.0.0.1:{coturn}", f"turn:127.0.0.1:{coturn}?transport=udp"]
    settings.TURN_SECRET = TURN_SECRET
    settings.TURN_TTL_SECONDS = 3600
    return settings


def test_a_minted_turn_credential_allocates_a_relay_on_a_real_coturn(turn_settings, coturn):
    stun, turn = ice_servers_for(identity="pat:42@clinic")
    assert stun == {"urls": [f"stun:127.0.0.1:{coturn}"]}
    assert turn["username"].endswith(":pat:42@clinic")
    result = allocate(coturn, turn["username"], turn["credential"])
    assert result.returncode == 0, result.stdout[-2000:]
    assert "tot_recv_msgs=2" in result.stdout


def test_a_wrong_turn_credential_is_refused_by_coturn(turn_settings, coturn):
    turn = ice_servers_for(identity="pat")[1]
    wrong = turn_credential(username=turn["username"], secret=TURN_SECRET + "x")
    result = allocate(coturn, turn["username"], wrong)
    assert result.returncode != 0
    assert "Cannot complete Allocation" in result.stdout


def test_an_expired_turn_credential_is_refused_by_coturn(turn_settings, coturn):
    turn = ice_servers_for(identity="pat", now=datetime.now(UTC) - timedelta(seconds=3610))[1]
    assert int(turn["username"].split(":")[0]) < datetime.now(UTC).timestamp()
    result = allocate(coturn, turn["username"], turn["credential"])
    assert result.returncode != 0
    assert "Cannot complete Allocation" in result.stdout


def test_a_turn_credential_is_valid_for_the_configured_ttl(settings):
    settings.TURN_URLS, settings.TURN_SECRET, settings.TURN_TTL_SECONDS = ["turns:turn.example:443"], "s", 600
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    (server,) = ice_servers_for(identity="pat", now=now)
    assert server["urls"] == ["turns:turn.example:443"]
    assert server["username"] == f"{int(now.timestamp()) + 600}:pat"
    assert server["credential"] == turn_credential(username=server["username"], secret="s")


def test_stun_only_or_turn_without_a_secret_gives_no_turn_credentials(settings):
    settings.TURN_URLS, settings.TURN_SECRET = ["stun:stun.example:3478", "turn:turn.example:3478"], ""
    assert ice_servers_for(identity="pat") == [{"urls": ["stun:stun.example:3478"]}]
    assert not turn_configured()
    settings.TURN_URLS, settings.TURN_SECRET = ["stun:stun.example:3478"], TURN_SECRET
    assert not turn_configured()
    settings.TURN_URLS = []
    assert ice_servers_for(identity="pat") == []


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"TURN_URLS": "turn:turn.example:3478"}, "TURN_SECRET"),
        ({"TURN_URLS": "turn:turn.example:3478", "TURN_SECRET": "short"}, "TURN_SECRET"),
        ({"TURN_URLS": "turn:turn.example:3478", "TURN_SECRET": TURN_SECRET, "TURN_TTL_SECONDS": "0"}, "TTL"),
        ({"TURN_URLS": "https://turn.example"}, "TURN_URLS"),
    ],
)
def test_production_refuses_turn_settings_browsers_cannot_use(overrides, complaint):
    result = load_settings(**overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_production_accepts_turn_with_a_strong_secret_from_a_file(tmp_path):
    (tmp_path / "turn_secret").write_text(TURN_SECRET + "\n")
    code = f"from django.conf import settings; print(settings.TURN_SECRET == {TURN_SECRET!r}, settings.TURN_URLS)"
    result = load_settings(
        code, TURN_URLS="stun:turn.example:3478,turns:turn.example:443", TURN_SECRET_FILE=str(tmp_path / "turn_secret")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['stun:turn.example:3478', 'turns:turn.example:443']"
