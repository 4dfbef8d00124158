"""Real media on a loopback-only machine: a private network namespace holding Janus, Convene's own
processes and headless Chromium (Playwright driving Debian's /usr/bin/chromium with a fake camera
and microphone), following the recipe in the Janus notes.

libnice gathers no ICE candidates on loopback interfaces, so the namespace has `lo` up and a veth
pair whose `veth0` holds 127.0.0.2/32: Janus is told to use only veth0 (nat.ice_enforce_list) and
Chromium is allowed loopback candidates. Nothing here reaches beyond the namespace and this host's
loopback. The test process stays outside: it talks to Convene's web server over a Unix socket,
and to PostgreSQL (the suite's own server, a database of its own) also over a Unix socket.

Every process is started with a deadline for its readiness and stopped at the end; the namespace
is deleted last. Usable by several tests: `MediaNamespace`, `ConveneStack`, `Browsers`, `CallPage`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
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

from devtools.janus import JanusServer
from devtools.localservers import free_port, stop_process
from tests.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]

VENV_BIN = Path(sys.executable).parent
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    # The test page is handed to the browser by Playwright, so Chromium cannot tell it comes from
    # loopback and would refuse its requests to Janus (Local Network Access checks).
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests",
]


class MediaNamespace:
    """`ip netns add`, lo up, veth0 (127.0.0.2/32) + veth1, IPv6 off; `close()` kills what still
    runs inside it (only processes this harness started) and deletes it."""

    def __init__(self):
        self.name = f"convene-media-{os.getpid()}-{secrets.token_hex(3)}"

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, *args], check=True, capture_output=True, timeout=10)

    def open(self) -> MediaNamespace:
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True, timeout=10)
        try:
            self._ip("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
            self._ip("ip", "link", "set", "lo", "up")
            self._ip("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
            self._ip("ip", "link", "set", "veth0", "up")
            self._ip("ip", "link", "set", "veth1", "up")
            self._ip("ip", "addr", "add", "127.0.0.2/32", "dev", "veth0")
        except BaseException:
            self.close()
            raise
        return self

    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def pids(self) -> list[int]:
        listed = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True, timeout=10)
        return [int(pid) for pid in listed.stdout.split()]

    def close(self) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)


# -- Convene over a Unix socket ----------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class UnixHTTP:
    """HTTP/1.1 to Convene's web server through the Unix socket gunicorn also listens on. Keeps
    the cookies it is given (a reviewer's login)."""

    def __init__(self, socket_path: Path, host: str):
        self.socket_path, self.host = socket_path, host
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, body=None, headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection(self.host, timeout=30)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(self.socket_path))
        conn.sock = sock
        sent = {"Host": self.host, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if isinstance(body, dict | list):
            body, sent["Content-Type"] = json.dumps(body), "application/json"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            conn.close()


@dataclass
class ConveneStack:
    """Convene's web server (gunicorn, production settings) and a Celery worker, Redis and Janus,
    all inside the namespace; PostgreSQL is the suite's own server, reached through its socket."""

    netns: MediaNamespace
    database_url: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="convene-media-")))
    procs: list[subprocess.Popen] = field(default_factory=list)
    janus: JanusServer | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.web_port, self.janus_port, self.redis_port = free_port(), free_port(), free_port()
        self.socket_path = self.root / "convene.sock"
        self.recording_dir = self.root / "janus-recordings"
        self.storage_dir = self.root / "stored-recordings"
        self.http = UnixHTTP(self.socket_path, "127.0.0.1")

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> ConveneStack:
        database = f"convene_media_{secrets.token_hex(4)}"
        self._create_database(database)
        secret = {n: secrets.token_urlsafe(48) for n in ("key", "livekit", "admin", "token", "hook")}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_", "JANUS_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": secret["key"],
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "LIVEKIT_URL": "http://127.0.0.1:9",
            "LIVEKIT_API_KEY": "media-test-livekit-key",
            "LIVEKIT_API_SECRET": secret["livekit"],
            "DATABASE_URL": self._database_url(database),
            "PGHOST": self.socket_dir,
            "PGPORT": str(urlsplit(self.database_url).port or 5432),  # names the socket file
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CONVENE_PUBLIC_URL": self.public_url,
            "CONVENE_DEFAULT_PROVIDER": "janus",
            "JANUS_URL": f"http://127.0.0.1:{self.janus_port}/janus",
            "JANUS_ADMIN_KEY": secret["admin"],
            "JANUS_TOKEN_SECRET": secret["token"],
            "JANUS_WEBHOOK_USER": "janus",
            "JANUS_WEBHOOK_PASSWORD": secret["hook"],
            "JANUS_RECORDING_DIR": str(self.recording_dir),
            "RECORDING_STORAGE": "file",
            "RECORDING_FILE_DIR": str(self.storage_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        try:
            self._start_processes()
        except BaseException:
            self.close()
            raise
        return self

    def _start_processes(self) -> None:
        self._spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", ""])
        self.manage("migrate", "--no-input", timeout=180)
        web = [str(VENV_BIN / "gunicorn"), "config.wsgi", "--workers", "2", "--threads", "4", "--graceful-timeout", "5"]
        web += ["--bind", f"127.0.0.1:{self.web_port}", "--bind", f"unix:{self.socket_path}"]
        self._spawn("web", web)
        self._spawn("worker", [str(VENV_BIN / "celery"), "-A", "config", "worker", "--concurrency", "2", "-l", "INFO"])
        wait_until(self._web_ready, timeout=60, what="Convene's /healthz")
        self.janus = JanusServer(
            admin_key=self.env["JANUS_ADMIN_KEY"],
            token_secret=self.env["JANUS_TOKEN_SECRET"],
            webhook_url=f"{self.public_url}/webhooks/janus",
            webhook_user="janus",
            webhook_password=self.env["JANUS_WEBHOOK_PASSWORD"],
            recording_dir=str(self.recording_dir),
            port=self.janus_port,
            netns=self.netns.name,
            ice_interfaces="veth0",
        ).start(timeout=20)

    def _web_ready(self) -> bool:
        for name, proc in (("web", self.procs[1]), ("worker", self.procs[2])):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}")
        try:
            return self.http.request("GET", "/healthz").status == 200
        except OSError:
            return False

    def _create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            self.socket_dir = conn.execute("SHOW unix_socket_directories").fetchone()[0].split(",")[0].strip()

    def _database_url(self, name: str) -> str:
        """No host in the URL: libpq then takes PGHOST, the server's socket folder."""
        return f"postgres://{urlsplit(self.database_url).username}@/{name}"

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")  # the child keeps its own copy
        process = subprocess.Popen(
            [*self.netns.prefix(), *command], cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.procs.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def manage(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [*self.netns.prefix(), sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def api(self, method: str, path: str, api_key: str, body=None) -> Answer:
        return self.http.request(method, path, body=body, headers={"Authorization": f"Api-Key {api_key}"})

    def close(self) -> None:
        if self.janus is not None:
            self.janus.stop()
        for process in reversed(self.procs):
            stop_process(process, timeout=10)
        if not os.environ.get("MEDIA_KEEP_LOGS"):
            shutil.rmtree(self.root, ignore_errors=True)


# -- Browsers ----------------------------------------------------------------------------------------

CALL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Convene media test</title>
<style>body{margin:0;background:#222;color:#eee;font:14px sans-serif} video{width:320px;height:240px;
background:#000;margin:4px} #state{padding:4px}</style></head>
<body><div id="state">starting</div><video id="local" autoplay playsinline muted></video>
<div id="remotes"></div>
<script src="/__media_test__/janus.js"></script>
<script src="/__media_test__/call.js"></script></body></html>"""

# The test fixture's whole call: credentials from POST /api/v1/join/{secret}, then janus.js joins
# the VideoRoom as a publisher with the token (Janus checks it against the room's allowed list),
# publishes camera and microphone, and subscribes to every other publisher.
CALL_JS = r"""
window.call = {state: "starting", joinStartedAt: null, firstRemoteFrameAt: null, errors: [], subscribers: []};
const say = (text) => { window.call.state = text; document.getElementById("state").textContent = text; };
const adapter = {browserDetails: {browser: "chrome", version: 120}};
const shown = new Set();
const showRemote = (track) => {
  if (shown.has(track.id)) return;
  shown.add(track.id);
  const video = document.createElement("video");
  Object.assign(video, {autoplay: true, playsInline: true, muted: true});
  video.srcObject = new MediaStream([track]);
  document.getElementById("remotes").appendChild(video);
  video.requestVideoFrameCallback(() => { window.call.firstRemoteFrameAt ??= performance.now(); });
};
window.startCall = (secret) => new Promise((resolve, reject) => {
  const fail = (what) => (err) => { window.call.errors.push(what + ": " + JSON.stringify(err)); reject(what); };
  window.call.joinStartedAt = performance.now();
  fetch(`/api/v1/join/${secret}`, {method: "POST"}).then((r) => r.json()).then((creds) => {
    if (!creds.token) return fail("join")(creds);
    window.call.identity = creds.identity;
    const room = parseInt(creds.room_name, 10);
    Janus.init({debug: false, dependencies: Janus.useDefaultDependencies({adapter}), callback: () => {
      const janus = window.call.janus = new Janus({
        server: creds.server_url, token: creds.token, iceServers: creds.ice_servers,
        error: fail("session"), success: () => {
        const subscribed = new Set();  // Janus announces a publisher again when it reconfigures
        const subscribe = (feed) => {
          if (subscribed.has(feed)) return;
          subscribed.add(feed);
          let sub = null;
          janus.attach({plugin: "janus.plugin.videoroom", error: fail("subscribe"),
            success: (handle) => {
              sub = handle;
              window.call.subscribers.push(handle);
              handle.send({message: {request: "join", ptype: "subscriber", room, token: creds.token,
                                     streams: [{feed}]}});
            },
            onmessage: (msg, jsep) => {
              if (jsep) sub.createAnswer({jsep, tracks: [{type: "data"}], error: fail("answer"),
                success: (answer) => sub.send({message: {request: "start", room}, jsep: answer})});
            },
            onremotetrack: (track, mid, on) => { if (on && track.kind === "video") showRemote(track); }});
        };
        janus.attach({plugin: "janus.plugin.videoroom", error: fail("attach"), success: (pub) => {
          window.call.publisher = pub;
          pub.send({message: {request: "join", ptype: "publisher", room, display: creds.display_name,
                              token: creds.token}});
        }, onmessage: (msg, jsep) => {
          const pub = window.call.publisher;
          if (msg.error) fail("videoroom")(msg.error);
          if (msg.videoroom === "joined") {
            say("joined " + creds.display_name);
            pub.createOffer({tracks: [{type: "audio", capture: true, recv: false},
                                      {type: "video", capture: true, recv: false}],
              error: fail("offer"),
              success: (offer) => pub.send({message: {request: "configure", audio: true, video: true}, jsep: offer})});
          }
          for (const p of (msg.publishers || [])) subscribe(p.id);
          if (jsep) pub.handleRemoteJsep({jsep});
        }, onlocaltrack: (track, on) => {
          if (on && track.kind === "video") document.getElementById("local").srcObject = new MediaStream([track]);
        }, webrtcState: (up) => { if (up) { say("in the call: " + creds.display_name); resolve(creds.identity); } }});
      }});
    }});
  }).catch(fail("join"));
});
window.leaveCall = () => new Promise((resolve) => window.call.janus.destroy({success: resolve, error: resolve}));
// Video frames decoded from other people: inbound-rtp stats of the subscriber connections.
window.framesDecoded = async () => {
  let frames = 0;
  for (const sub of window.call.subscribers) {
    const pc = sub.webrtcStuff && sub.webrtcStuff.pc;
    if (!pc) continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
    });
  }
  return frames;
};
"""


@dataclass
class CallPage:
    """One person in the call: a browser page on Convene's origin running the fixture page."""

    page: object
    name: str

    def join(self, secret: str, timeout: float = 30) -> str:
        """Join with a link secret; returns the identity once this person's media is up."""
        script = "([s, ms]) => Promise.race([startCall(s), new Promise((_, no) => setTimeout(no, ms, 'timeout'))])"
        return self.page.evaluate(script, [secret, int(timeout * 1000)])

    def leave(self) -> None:
        self.page.evaluate("leaveCall()")

    def frames_decoded(self) -> int:
        return self.page.evaluate("framesDecoded()")

    def seconds_to_first_remote_frame(self) -> float | None:
        started, first = self.page.evaluate("[window.call.joinStartedAt, window.call.firstRemoteFrameAt]")
        return None if first is None else (first - started) / 1000

    def screenshot(self, path: Path) -> Path:
        self.page.screenshot(path=str(path))
        return path


class Browsers:
    """Headless Chromium started inside the namespace (a wrapper runs it under `ip netns exec`),
    driven by Playwright from outside; each page is its own browser with a fresh profile."""

    def __init__(self, netns: MediaNamespace, origin: str, workdir: Path):
        from playwright.sync_api import sync_playwright

        self.origin, self.workdir = origin, workdir
        self.wrapper = workdir / "chromium-in-namespace"
        self.wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns.name} {CHROMIUM} "$@"\n')
        self.wrapper.chmod(0o755)
        self._playwright = sync_playwright().start()
        self._browsers = []

    def page(self, name: str) -> CallPage:
        browser = self._playwright.chromium.launch(executable_path=str(self.wrapper), args=CHROMIUM_ARGS, timeout=30000)
        self._browsers.append(browser)
        page = browser.new_page(viewport={"width": 1000, "height": 560})
        page.route(f"{self.origin}/__media_test__/**", self._serve_fixture)
        page.goto(f"{self.origin}/__media_test__/call.html", timeout=30000)
        return CallPage(page=page, name=name)

    @staticmethod
    def _serve_fixture(route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        if name == "janus.js":
            route.fulfill(body=JANUS_JS.read_text(), content_type="text/javascript")
        elif name == "call.js":
            route.fulfill(body=CALL_JS, content_type="text/javascript")
        else:
            route.fulfill(body=CALL_PAGE, content_type="text/html")

    def close(self) -> None:
        for browser in self._browsers:
            try:
                browser.close()
            except Exception:  # a browser that already died needs no closing
                pass
        self._playwright.stop()


def media_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.mjr") if re.search(r"-(audio|video)-\d+\.mjr$", p.name))


# -- Raw recordings without Convene: real .mjr files from a real call ------------------------------

JANUS_REQUEST_JS = """async ([url, body]) => {
  const post = (path, payload) => fetch(url + path, {method: "POST", body: JSON.stringify(
    {transaction: Math.random().toString(36).slice(2), ...payload})}).then((r) => r.json());
  const session = (await post("", {janus: "create", token: body.token})).data.id;
  const attach = {janus: "attach", plugin: "janus.plugin.videoroom", token: body.token};
  const handle = (await post(`/${session}`, attach)).data.id;
  const answer = await post(`/${session}/${handle}`, {janus: "message", token: body.token, body: body.request});
  await post(`/${session}`, {janus: "destroy", token: body.token});
  return answer.plugindata ? answer.plugindata.data : answer;
}"""


def janus_token(secret: str, seconds: int = 600) -> str:
    """A Janus token_auth token (the scheme in the Janus notes), valid for the VideoRoom plugin."""
    import base64
    import hashlib
    import hmac

    data = f"{int(time.time()) + seconds},janus,janus.plugin.videoroom"
    return data + ":" + base64.b64encode(hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _answer_with(credentials: dict):
    return lambda route, request=None: route.fulfill(json=credentials)


def record_janus_call(workdir: Path, *, people: int = 2, seconds: float = 4) -> tuple[Path, str]:
    """Two (or more) Chromium publishers in one Janus room, recorded for `seconds` by Janus itself
    (enable_recording on the live room): the folder holding the .mjr files, and their prefix."""
    netns = MediaNamespace().open()
    janus = browsers = None
    try:
        admin_key, token_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        recording_dir = workdir / "janus"
        janus = JanusServer(
            admin_key=admin_key,
            token_secret=token_secret,
            recording_dir=str(recording_dir),
            netns=netns.name,
            ice_interfaces="veth0",
            root=workdir / "janus-config",
        ).start(timeout=20)
        origin = f"http://127.0.0.1:{free_port()}"
        browsers = Browsers(netns, origin, workdir)
        room, token = 4000 + secrets.randbelow(100000), janus_token(token_secret)
        pages = [browsers.page(f"person-{n}") for n in range(people)]
        create = {"request": "create", "room": room, "admin_key": admin_key, "publishers": people + 1}
        create["rec_dir"] = str(recording_dir)
        created = pages[0].page.evaluate(JANUS_REQUEST_JS, [janus.url, {"token": token, "request": create}])
        assert created.get("videoroom") == "created", created
        for page in pages:
            credentials = {"server_url": janus.url, "token": token, "room_name": str(room), "ice_servers": []}
            credentials.update(identity=page.name, display_name=page.name)
            page.page.route(f"{origin}/api/v1/join/**", _answer_with(credentials))
            page.join("fixture")
        wait_until(lambda: all(p.frames_decoded() > 0 for p in pages), timeout=30, what="remote frames")
        for record in (True, False):
            request = {"request": "enable_recording", "room": room, "record": record}
            answer = pages[0].page.evaluate(JANUS_REQUEST_JS, [janus.url, {"token": token, "request": request}])
            assert answer.get("record") is record, answer
            if record:
                time.sleep(seconds)
        return recording_dir, f"videoroom-{room}-"
    finally:
        if browsers is not None:
            browsers.close()
        if janus is not None:
            janus.stop()
        netns.close()
