// The join page's controller: screens, the pre-join step, consent, redeeming the link, the waiting
// room, and the call itself through the room's provider adapter. It talks to Convene's API (same
// origin) and, through the adapter, to the media server; never to anything else.
import { Preview } from "./media.js";
import { adapterFor } from "./providers.js";
import { Telemetry } from "./telemetry.js";

const config = JSON.parse(document.getElementById("join-config").textContent);
const text = config.text;
const $ = (id) => document.getElementById(id);
const page = { session: null, events: null, telemetry: null, credentials: null };
window.convene = page; // for the browser tests and for support: the page's live state

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
}

function show(screen) {
  for (const section of document.querySelectorAll("section[data-screen]")) section.hidden = section.id !== `screen-${screen}`;
  document.body.dataset.current = screen;
  $(`screen-${screen}`)?.querySelector("h2")?.focus();
}

function showEnd(kind) {
  page.events?.close();
  page.telemetry?.stop();
  $("end-heading").textContent = text[`${kind}_title`];
  $("end-body").textContent = text[`${kind}_body`];
  show("end");
}

async function api(path, body) {
  const response = await fetch(config.api + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  });
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

function localTimes() {
  for (const element of document.querySelectorAll("time[data-local-time]")) {
    const when = new Date(element.getAttribute("datetime"));
    element.textContent = when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
}

// Too early: count down to the moment joining opens, then reload (the server shows the next screen).
function countdown(until) {
  const target = new Date(until).getTime();
  const tick = () => {
    const left = Math.max(0, Math.ceil((target - Date.now()) / 1000));
    const hours = Math.floor(left / 3600);
    const minutes = Math.floor((left % 3600) / 60);
    const seconds = String(left % 60).padStart(2, "0");
    const time = hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
    $("countdown").textContent = format(text.countdown, { time });
    if (left === 0) location.reload();
    else setTimeout(tick, 1000);
  };
  tick();
}

// --- before joining -------------------------------------------------------------------------

function consentStep() {
  const consent = config.consent;
  // Consent is asked when the room may be recorded and there is a notice to agree to; without a
  // notice nobody can consent, so nothing can be recorded and there is nothing to ask.
  if (!consent?.required || consent.consented || !consent.notice_text) return Promise.resolve();
  $("consent").hidden = false;
  $("consent-text").textContent = consent.notice_text;
  $("consent-version").textContent = format(text.consent_version, { version: consent.notice_version });
  return new Promise((resolve) => {
    const decide = async (decision) => {
      const { status } = await api("/consent", { decision, notice_version: consent.notice_version });
      if (status !== 201) return;
      $("consent-status").textContent = decision === "granted" ? text.consent_granted : text.consent_declined;
      $("consent-grant").disabled = $("consent-decline").disabled = true;
      resolve(decision);
    };
    $("consent-grant").addEventListener("click", () => decide("granted"));
    $("consent-decline").addEventListener("click", () => decide("withdrawn"));
  });
}

async function prejoin() {
  const preview = new Preview({
    video: $("preview"),
    cameraSelect: $("camera-select"),
    micSelect: $("mic-select"),
    meter: $("mic-level"),
    status: $("media-status"),
    text,
  });
  page.preview = preview;
  listen();
  const consented = consentStep();
  let answered = false;
  consented.then(() => { answered = true; $("join-error").textContent = ""; });
  $("join-button").addEventListener("click", async () => {
    if (!answered) {
      $("join-error").textContent = text.consent_needed;
      return;
    }
    $("join-button").disabled = true;
    await join(preview);
  });
  if (config.can_publish && navigator.mediaDevices) await preview.start();
  else $("media-status").hidden = true;
}

// --- joining --------------------------------------------------------------------------------

async function join(preview) {
  show("connecting");
  const { status, data } = await api("");
  if (status === 202 && data.waiting) return waitForHost(preview, data);
  if (status !== 200) {
    if ([403, 404, 410].includes(status)) location.reload(); // the server's screen says why
    else fail();
    return;
  }
  await connect(preview, data);
}

function fail() {
  $("join-button").disabled = false;
  $("join-error").textContent = text.failed_body;
  show("prejoin");
}

async function connect(preview, credentials) {
  page.credentials = credentials;
  const stream = preview.stop({ keep: true });
  const adapter = await adapterFor(credentials.provider);
  page.telemetry = new Telemetry({ url: `${config.api}/telemetry`, provider: credentials.provider });
  page.telemetry.report("connecting", {});
  try {
    page.session = await adapter.connect({ credentials, stream, onEvent: onSessionEvent });
  } catch (error) {
    page.telemetry.report("connect_failed", { message: String(error?.message || error).slice(0, 200) });
    page.connectError = String(error?.message || error);
    stream?.getTracks().forEach((track) => track.stop());
    fail();
    return;
  }
  page.telemetry.start(page.session);
  page.joinedAt = performance.now();
  inCall(stream);
}

// --- in the call ----------------------------------------------------------------------------

function inCall(stream) {
  show("call");
  const micOn = Boolean(stream?.getAudioTracks().length);
  const cameraOn = Boolean(stream?.getVideoTracks().length);
  toggle("mic-toggle", micOn, text.mute, text.unmute, (on) => page.session.setMicrophone(on), !micOn);
  toggle("camera-toggle", cameraOn, text.camera_off, text.camera_on, (on) => page.session.setCamera(on), !cameraOn);
  if (config.publish_sources.includes("screen_share") && navigator.mediaDevices?.getDisplayMedia) {
    $("share-toggle").hidden = false;
    toggle("share-toggle", false, text.stop_share, text.share_screen, (on) => page.session.setScreenShare(on));
  }
  $("leave-button").addEventListener("click", async () => {
    await page.session.leave();
    showEnd("left");
  });
}

// A two-state button: `on` shows labelOn (the action that turns it off), pressed when off.
function toggle(id, on, labelOn, labelOff, apply, disabled = false) {
  const button = $(id);
  let state = on;
  const paint = () => {
    button.textContent = state ? labelOn : labelOff;
    button.setAttribute("aria-pressed", String(id === "share-toggle" ? state : !state));
  };
  button.disabled = disabled;
  paint();
  button.addEventListener("click", async () => {
    state = await apply(!state);
    paint();
  });
}

function onSessionEvent(event) {
  if (event.type === "tiles") renderTiles(event.tiles);
  else if (event.type === "reconnecting") banner(text.reconnecting);
  else if (event.type === "reconnected") banner("");
  else if (event.type === "quality") banner(event.poor ? text.poor_connection : "");
  else if (event.type === "ended") showEnd(event.reason);
  page.telemetry?.onSessionEvent(event);
}

function banner(message) {
  $("banner").textContent = message;
  $("banner").hidden = !message;
}

function renderTiles(tiles) {
  const container = $("tiles");
  const seen = new Set();
  for (const tile of tiles) {
    seen.add(tile.key);
    let element = container.querySelector(`[data-key="${CSS.escape(tile.key)}"]`);
    if (!element) {
      element = document.createElement("figure");
      element.className = "tile";
      element.dataset.key = tile.key;
      if (tile.local) element.dataset.local = "true";
      const video = document.createElement("video");
      video.autoplay = video.playsInline = true;
      video.muted = true;
      const name = document.createElement("figcaption");
      name.className = "name";
      element.append(video, name);
      if (!tile.local) element.append(document.createElement("audio"));
      container.append(element);
    }
    element.querySelector(".name").textContent = tile.local ? `${tile.name} (${text.you})` : tile.name;
    attach(element.querySelector("video"), tile.video);
    if (!tile.local) attach(element.querySelector("audio"), tile.audio, true);
  }
  for (const element of container.querySelectorAll(".tile")) if (!seen.has(element.dataset.key)) element.remove();
}

function attach(element, track, autoplay = false) {
  const current = element.srcObject?.getTracks()[0];
  if (current === track) return;
  element.srcObject = track ? new MediaStream([track]) : null;
  if (autoplay && track) element.play().catch(() => {});
  if (track && track.kind === "video" && !element.closest(".tile")?.dataset.local) {
    element.requestVideoFrameCallback?.(() => (page.firstRemoteFrameAt ??= performance.now()));
  }
}

// Convene's own view of the room, live from the page's first moment: recording state, the
// lobby (hosts), a waiting guest's admission, the room's closing.
function listen() {
  const events = new EventSource(`${config.api}/events`);
  page.events = events;
  events.addEventListener("state", (message) => {
    const state = JSON.parse(message.data);
    page.state = state;
    $("recording-indicator").hidden = !state.recording;
    if (state.lobby) renderLobby(state.lobby);
    if (state.room_closed) {
      if (page.session) page.session.leave().finally(() => showEnd("ended"));
      else location.reload(); // the server's screen says the room is closed
    }
    if (page.waiting && state.lobby_entry) onLobbyDecision(state.lobby_entry.status);
  });
}

function renderLobby(entries) {
  $("lobby").hidden = false;
  $("lobby-empty").hidden = entries.length > 0;
  $("lobby-list").replaceChildren(
    ...entries.map((entry) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = entry.display_name;
      item.append(name, lobbyButton(entry, "admit"), lobbyButton(entry, "deny"));
      return item;
    }),
  );
}

function lobbyButton(entry, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text[action];
  button.className = action === "deny" ? "secondary" : "";
  button.setAttribute("aria-label", `${text[action]}: ${entry.display_name}`);
  button.addEventListener("click", () => api(`/lobby/${entry.id}/${action}`));
  return button;
}

// --- the waiting room -------------------------------------------------------------------------

function waitForHost(preview, waiting) {
  page.waiting = { preview, entry: waiting.lobby_entry };
  show("waiting");
  // The stream may have reported this entry before the join made it: ask again at once.
  page.events?.close();
  listen();
}

async function onLobbyDecision(status) {
  const { preview } = page.waiting;
  if (status === "admitted") {
    page.waiting = null;
    const { status: code, data } = await api("");
    if (code === 200) await connect(preview, data);
    else location.reload();
  } else if (status === "denied" || status === "expired") {
    page.waiting = null;
    preview.stop();
    showEnd(status === "denied" ? "denied" : "lobby_timeout");
  }
}

// --- start ------------------------------------------------------------------------------------

localTimes();
if (config.state === "too_early" && config.join_allowed_from) countdown(config.join_allowed_from);
else if (config.state === "joinable") prejoin();
