// Janus adapter: janus.js (Debian's libjs-janus-gateway, global Janus, served from Convene's static
// files) joins the VideoRoom named in the join response as a publisher, with the signed token
// Convene minted (on the session and in the join request: the room's allowed list checks it), and
// subscribes to every other publisher. Contract: provider "janus", server_url (Janus's HTTP API),
// token, room_name (the numeric VideoRoom id), display_name, ice_servers.

// janus.js asks webrtc-adapter only which browser this is; Debian ships no webrtc-adapter, and
// today's browsers need none of its shims for what this page does.
function browserDetails() {
  const agent = navigator.userAgent;
  const firefox = agent.match(/Firefox\/(\d+)/);
  if (firefox) return { browser: "firefox", version: Number(firefox[1]) };
  const safari = !/Chrom(e|ium)/.test(agent) && agent.match(/Version\/(\d+).*Safari/);
  if (safari) return { browser: "safari", version: 605 };
  const chrome = agent.match(/Chrom(?:e|ium)\/(\d+)/);
  return { browser: "chrome", version: chrome ? Number(chrome[1]) : 0 };
}

function init(Janus) {
  return new Promise((resolve) =>
    Janus.init({
      debug: false,
      dependencies: Janus.useDefaultDependencies({ adapter: { browserDetails: browserDetails() } }),
      callback: resolve,
    }),
  );
}

function attach(janus, callbacks) {
  return new Promise((resolve, reject) =>
    janus.attach({ plugin: "janus.plugin.videoroom", success: resolve, error: (e) => reject(new Error(String(e))), ...callbacks }),
  );
}

export async function connect({ credentials, stream, onEvent }) {
  const Janus = window.Janus;
  if (!Janus) throw new Error("janus.js is not loaded");
  await init(Janus);
  const room = Number(credentials.room_name);
  const { token } = credentials;
  const local = { key: "local", name: credentials.display_name, local: true, video: null, audio: null };
  const remotes = new Map(); // feed id -> tile and its subscriber handle
  const emitTiles = () => onEvent({ type: "tiles", tiles: [local, ...remotes.values()] });
  let leaving = false;
  let ended = false;
  const end = (reason) => {
    if (leaving || ended) return;
    ended = true;
    onEvent({ type: "ended", reason });
  };

  const janus = await new Promise((resolve, reject) => {
    const session = new Janus({
      server: credentials.server_url,
      token,
      iceServers: credentials.ice_servers ?? [],
      success: () => resolve(session),
      error: (error) => (session.isConnected() ? end("failed") : reject(new Error(String(error)))),
      destroyed: () => end("ended"),
    });
  });

  let myId = null;
  let joined;
  const joinedOnce = new Promise((resolve, reject) => (joined = { resolve, reject }));

  const subscribe = async (feed) => {
    if (remotes.has(feed.id) || feed.id === myId) return;
    const tile = { key: `feed-${feed.id}`, name: feed.display || String(feed.id), local: false, video: null, audio: null };
    remotes.set(feed.id, tile);
    const handle = await attach(janus, {
      onmessage: (message, jsep) => {
        if (!jsep) return;
        handle.createAnswer({
          jsep,
          tracks: [{ type: "data" }],
          success: (answer) => handle.send({ message: { request: "start", room }, jsep: answer }),
          error: () => {},
        });
      },
      onremotetrack: (track, mid, on) => {
        tile[track.kind === "video" ? "video" : "audio"] = on ? track : null;
        emitTiles();
      },
    });
    tile.handle = handle;
    handle.send({ message: { request: "join", ptype: "subscriber", room, streams: [{ feed: feed.id }], token } });
  };
  const unsubscribe = (feedId) => {
    const tile = remotes.get(feedId);
    if (!tile) return;
    remotes.delete(feedId);
    tile.handle?.detach();
    emitTiles();
  };

  const publisher = await attach(janus, {
    onmessage: (message, jsep) => {
      if (jsep) publisher.handleRemoteJsep({ jsep });
      if (message.videoroom === "joined") {
        myId = message.id;
        joined.resolve();
      } else if (message.error_code) {
        joined.reject(new Error(message.error));
      } else if (message.videoroom === "destroyed") {
        end("ended");
      }
      for (const feed of message.publishers ?? []) subscribe(feed);
      const gone = message.leaving ?? message.unpublished;
      if (gone === "ok" && message.reason === "kicked") end("removed");
      else if (gone && gone !== "ok") unsubscribe(gone);
    },
    onlocaltrack: (track, on) => {
      local[track.kind === "video" ? "video" : "audio"] = on ? track : null;
      emitTiles();
    },
    iceState: (state) => {
      if (state === "disconnected" || state === "failed") onEvent({ type: "reconnecting" });
      else if (state === "connected") onEvent({ type: "reconnected" });
    },
  });
  publisher.send({ message: { request: "join", ptype: "publisher", room, display: credentials.display_name, token } });
  await joinedOnce;

  const tracks = (stream?.getTracks() ?? []).map((track) => ({ type: track.kind, capture: track, recv: false }));
  if (tracks.length) {
    await new Promise((resolve, reject) =>
      publisher.createOffer({
        tracks,
        success: (jsep) => {
          publisher.send({ message: { request: "configure", audio: true, video: true }, jsep });
          resolve();
        },
        error: (error) => reject(new Error(String(error?.message || error))),
      }),
    );
  }
  emitTiles();

  const localTrack = (kind) => stream?.getTracks().find((track) => track.kind === kind);
  const enable = (kind, on) => {
    const track = localTrack(kind);
    if (track) track.enabled = on;
    local[kind] = on ? track ?? null : null;
    emitTiles();
    return Boolean(track) && on;
  };
  let screen = null;
  return {
    provider: "janus",
    participantSid: () => (myId === null ? "" : String(myId)),
    setMicrophone: async (on) => enable("audio", on),
    setCamera: async (on) => enable("video", on),
    setScreenShare: async (on) => {
      const sender = publisher.webrtcStuff?.pc?.getSenders().find((s) => s.track?.kind === "video");
      if (!sender) return false;
      if (on) {
        try {
          screen = (await navigator.mediaDevices.getDisplayMedia({ video: true })).getVideoTracks()[0];
        } catch {
          return false; // the person cancelled the browser's picker
        }
        await sender.replaceTrack(screen);
        screen.addEventListener("ended", () => sender.replaceTrack(localTrack("video") ?? null));
        return true;
      }
      screen?.stop();
      await sender.replaceTrack(localTrack("video") ?? null);
      return false;
    },
    leave: async () => {
      leaving = true;
      publisher.send({ message: { request: "leave" } });
      await new Promise((resolve) => janus.destroy({ cleanupHandles: true, success: resolve, error: resolve }));
      stream?.getTracks().forEach((track) => track.stop());
    },
  };
}
