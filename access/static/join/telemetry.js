// What the browser sees of the call, reported to Convene (POST /api/v1/join/<secret>/telemetry):
// connection state changes, ICE failures, the selected candidate pair's type, and every few
// seconds a stats summary. It watches every RTCPeerConnection the page creates, whatever the
// provider adapter, by wrapping the constructor before any adapter runs.

const INTERVAL_MS = 5000;
const MAX_BATCH = 20;
const connections = new Set();
const watchers = new Set();

if (window.RTCPeerConnection && !window.RTCPeerConnection.conveneWrapped) {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      connections.add(this);
      for (const listener of watchers) listener(this);
    }
  };
  window.RTCPeerConnection.conveneWrapped = true;
}

export class Telemetry {
  constructor({ url, provider }) {
    this.url = url;
    this.provider = provider;
    this.connectionId = crypto.randomUUID();
    this.queue = [];
    this.previous = new Map();
    this.watch = (pc) => this.#watch(pc);
    watchers.add(this.watch);
    connections.forEach(this.watch);
  }

  start(session) {
    this.session = session;
    this.timer = setInterval(() => this.#sample(), INTERVAL_MS);
    this.report("joined", { participant_sid: session.participantSid?.() ?? "" });
  }

  stop() {
    clearInterval(this.timer);
    watchers.delete(this.watch);
    this.#flush();
  }

  onSessionEvent(event) {
    if (event.type === "reconnecting" || event.type === "reconnected") this.report(event.type, {});
    if (event.type === "ended") this.report("ended", { reason: event.reason });
  }

  report(type, data) {
    this.queue.push({ type, at: new Date().toISOString(), ...data });
    if (type !== "stats" || this.queue.length >= MAX_BATCH) this.#flush();
  }

  #watch(pc) {
    pc.addEventListener("connectionstatechange", () => this.report("connection_state", { state: pc.connectionState }));
    pc.addEventListener("icecandidateerror", (event) => {
      this.report("ice_error", { error_code: Number(event.errorCode) || 0, message: String(event.errorText || "").slice(0, 200) });
    });
    pc.addEventListener("iceconnectionstatechange", () => {
      if (pc.iceConnectionState === "failed") this.report("ice_failed", {});
    });
  }

  async #sample() {
    const summary = { rtt_ms: null, jitter_ms: null, packets_lost: 0, packets_received: 0, bytes_in: 0, bytes_out: 0,
      frames_decoded: 0, quality_limitation: "", candidate_type: "" };
    for (const pc of connections) {
      if (pc.connectionState === "closed") continue;
      const stats = await pc.getStats().catch(() => null);
      stats?.forEach((entry) => collect(entry, stats, summary));
    }
    const now = performance.now();
    const before = this.previous.get("bytes") ?? { at: now, bytes_in: summary.bytes_in, bytes_out: summary.bytes_out };
    const seconds = Math.max(0.001, (now - before.at) / 1000);
    this.previous.set("bytes", { at: now, bytes_in: summary.bytes_in, bytes_out: summary.bytes_out });
    const lossBase = summary.packets_lost + summary.packets_received;
    this.report("stats", {
      rtt_ms: summary.rtt_ms,
      jitter_ms: summary.jitter_ms,
      packet_loss_pct: lossBase ? Math.round((1000 * summary.packets_lost) / lossBase) / 10 : 0,
      bitrate_in_kbps: Math.max(0, Math.round(((summary.bytes_in - before.bytes_in) * 8) / seconds / 1000)),
      bitrate_out_kbps: Math.max(0, Math.round(((summary.bytes_out - before.bytes_out) * 8) / seconds / 1000)),
      frames_decoded: summary.frames_decoded,
      quality_limitation: summary.quality_limitation,
      candidate_type: summary.candidate_type,
    });
  }

  #flush() {
    if (!this.queue.length) return;
    const events = this.queue.splice(0, MAX_BATCH);
    fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ connection_id: this.connectionId, provider: this.provider, events }),
      keepalive: true,
      credentials: "omit",
      referrerPolicy: "no-referrer",
    }).catch(() => {});
  }
}

function collect(entry, stats, summary) {
  if (entry.type === "candidate-pair" && entry.nominated && entry.state === "succeeded") {
    if (entry.currentRoundTripTime !== undefined) summary.rtt_ms = Math.max(summary.rtt_ms ?? 0, entry.currentRoundTripTime * 1000);
    const local = stats.get(entry.localCandidateId);
    if (local?.candidateType) summary.candidate_type = local.candidateType === "prflx" ? "srflx" : local.candidateType;
  } else if (entry.type === "inbound-rtp") {
    if (entry.jitter !== undefined) summary.jitter_ms = Math.max(summary.jitter_ms ?? 0, entry.jitter * 1000);
    summary.packets_lost += Math.max(0, entry.packetsLost || 0);
    summary.packets_received += entry.packetsReceived || 0;
    summary.bytes_in += entry.bytesReceived || 0;
    summary.frames_decoded += entry.framesDecoded || 0;
  } else if (entry.type === "outbound-rtp") {
    summary.bytes_out += entry.bytesSent || 0;
    if (entry.qualityLimitationReason && entry.qualityLimitationReason !== "none") summary.quality_limitation = entry.qualityLimitationReason;
  }
}
