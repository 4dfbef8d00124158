"""A private Janus (the self-hosted SFU) configured from Convene's settings, for tests and `make run`.

Writes a Janus configuration folder of its own (HTTP API on one address, the VideoRoom plugin with
an admin key, token auth, the sample event handler posting to Convene's /webhooks/janus with basic
auth, a recording folder) and starts `janus` on it; never reads or changes /etc/janus. Usable as a
library (`JanusServer(...).start()`, like devtools.localservers.PostgresServer) and as a command:
`python -m devtools.janus` runs Janus from the environment's JANUS_* settings until interrupted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from devtools.localservers import free_port, stop_process

LIB_DIRS = ("/usr/lib/x86_64-linux-gnu/janus", "/usr/lib/aarch64-linux-gnu/janus", "/usr/lib/janus")
# Only what Convene uses is loaded: every other module is left out of the private folders.
MODULES = {
    "plugins": ["libjanus_videoroom.so"],
    "transports": ["libjanus_http.so"],
    "events": ["libjanus_sampleevh.so"],
}
# Event types the sample handler sends: the VideoRoom's (rooms, joins, publishing, leaving) are
# what Convene records; session, handle, ICE and media statistics events carry no room.
EVENT_TYPES = "plugins"


def janus_binary() -> str:
    found = shutil.which("janus") or ("/usr/bin/janus" if Path("/usr/bin/janus").exists() else "")
    if not found:
        raise FileNotFoundError("janus not found (apt-get install janus janus-tools)")
    return found


def janus_library_dir() -> Path:
    for directory in LIB_DIRS:
        if (Path(directory) / "plugins" / "libjanus_videoroom.so").exists():
            return Path(directory)
    raise FileNotFoundError("Janus's plugins not found (apt-get install janus)")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section(name: str, values: dict) -> str:
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = _quote(str(value))
        lines.append(f"\t{key} = {rendered}")
    return name + ": {\n" + "\n".join(lines) + "\n}\n"


@dataclass
class JanusServer:
    """One Janus process on its own folder. `host` is the address its HTTP API binds to (127.0.0.1,
    or an address inside a network namespace); `netns` runs it with `ip netns exec NAME` and
    `ice_interfaces` (e.g. "veth0") becomes nat.ice_enforce_list, so media uses that interface."""

    admin_key: str
    token_secret: str
    api_secret: str = ""
    webhook_url: str = ""
    webhook_user: str = ""
    webhook_password: str = ""
    recording_dir: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    netns: str = ""
    ice_interfaces: str = ""
    session_timeout: int = 60
    debug_level: int = 4
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="convene-janus-")))
    process: subprocess.Popen | None = None

    def __post_init__(self):
        self.port = self.port or free_port()
        self.recording_dir = self.recording_dir or str(self.root / "recordings")

    @classmethod
    def from_settings(cls, settings, **overrides) -> JanusServer:
        """A server matching what Convene's settings expect: same secrets, port from JANUS_URL."""
        url = urlsplit(settings.JANUS_URL)
        values = {
            "admin_key": settings.JANUS_ADMIN_KEY,
            "token_secret": settings.JANUS_TOKEN_SECRET,
            "api_secret": settings.JANUS_API_SECRET,
            "webhook_user": settings.JANUS_WEBHOOK_USER,
            "webhook_password": settings.JANUS_WEBHOOK_PASSWORD,
            "recording_dir": settings.JANUS_RECORDING_DIR,
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 8088,
        }
        return cls(**{**values, **overrides})

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/janus"

    @property
    def log_path(self) -> Path:
        return self.root / "janus.log"

    def write_config(self) -> Path:
        library = janus_library_dir()
        for kind, names in MODULES.items():
            folder = self.root / kind
            folder.mkdir(parents=True, exist_ok=True)
            for name in names:
                link = folder / name
                if not link.exists():
                    link.symlink_to(library / kind / name)
        Path(self.recording_dir).mkdir(parents=True, exist_ok=True)
        (self.root / "janus.jcfg").write_text(self._core_config())
        (self.root / "janus.transport.http.jcfg").write_text(self._http_config())
        (self.root / "janus.plugin.videoroom.jcfg").write_text(
            _section("general", {"admin_key": self.admin_key, "events": True})
        )
        (self.root / "janus.eventhandler.sampleevh.jcfg").write_text(self._event_handler_config())
        return self.root / "janus.jcfg"

    def _core_config(self) -> str:
        general = {
            "configs_folder": str(self.root),
            "plugins_folder": str(self.root / "plugins"),
            "transports_folder": str(self.root / "transports"),
            "events_folder": str(self.root / "events"),
            "debug_level": self.debug_level,
            "api_secret": self.api_secret or None,
            "token_auth": True,
            "token_auth_secret": self.token_secret,
            "session_timeout": self.session_timeout,
            "server_name": "convene-janus",
        }
        # The recording folder must not be under a protected folder: list only system ones.
        protected = (
            '\tprotected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr"]\n'
        )
        text = _section("general", general).replace("\n}\n", "\n" + protected + "}\n")
        text += _section("nat", {"ice_enforce_list": self.ice_interfaces or None, "nice_debug": False})
        text += _section("media", {"rtp_port_range": "20000-40000"})
        text += _section("events", {"broadcast": bool(self.webhook_url), "stats_period": 5})
        return text

    def _http_config(self) -> str:
        general = {
            "json": "plain",
            "base_path": "/janus",
            "http": True,
            "port": self.port,
            "https": False,
            "ip": self.host,
        }
        return _section("general", general) + _section("admin", {"admin_http": False})

    def _event_handler_config(self) -> str:
        general = {
            "enabled": bool(self.webhook_url),
            "events": EVENT_TYPES,
            "grouping": True,
            "json": "plain",
            "backend": self.webhook_url or "http://127.0.0.1:9/",
            "backend_user": self.webhook_user or None,
            "backend_pwd": self.webhook_password or None,
            "max_retransmissions": 5,
            "retransmissions_backoff": 100,
        }
        return _section("general", general)

    def command(self) -> list[str]:
        core = [janus_binary(), "-C", str(self.root / "janus.jcfg"), "-F", str(self.root), "-o"]
        core += ["-L", str(self.log_path)]
        return (["ip", "netns", "exec", self.netns] if self.netns else []) + core

    def start(self, timeout: float = 15) -> JanusServer:
        self.write_config()
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=open(self.root / "stderr.log", "ab")
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited with {self.process.returncode}: {self.log_tail()}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"Janus did not answer on {self.url} after {timeout}s: {self.log_tail()}")

    def _answers(self) -> bool:
        if self.netns:  # the address lives in another namespace: ask from inside it
            probe = ["ip", "netns", "exec", self.netns, sys.executable, "-c", _PROBE, self.host, str(self.port)]
            return subprocess.run(probe, capture_output=True, timeout=5).returncode == 0
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex((self.host, self.port)) == 0

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


_PROBE = (
    "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))))"
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhook-url", default=os.environ.get("JANUS_WEBHOOK_URL", ""))
    parser.add_argument("--netns", default="", help="run inside this network namespace (ip netns exec)")
    parser.add_argument("--ice-interfaces", default="", help='nat.ice_enforce_list, e.g. "veth0"')
    parser.add_argument("--folder", default="", help="configuration folder (default: a temporary one)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    overrides = {"webhook_url": args.webhook_url, "netns": args.netns, "ice_interfaces": args.ice_interfaces}
    if args.folder:
        overrides["root"] = Path(args.folder)
    server = JanusServer.from_settings(settings, **overrides)
    # SIGTERM (make run's trap) ends the wait below the way Ctrl-C does; stopping Janus happens
    # once, after the wait has let go of the child (a handler that waited for it itself would
    # find the child's wait lock held by the interrupted wait and time out instead).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
        print(f"janus: {server.url} (config and log in {server.root})", flush=True)
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
