// The provider adapters: one module per media server, each exporting
// connect({ credentials, stream, onEvent }) -> session with setMicrophone(on), setCamera(on),
// setScreenShare(on) (each resolving to the new state) and leave(). onEvent receives
// { type: "tiles", tiles: [{ key, name, local, video, audio }] }, { type: "reconnecting" },
// { type: "reconnected" }, { type: "quality", poor }, { type: "ended", reason: "left" | "removed" | "ended" }.
const ADAPTERS = {
  livekit: () => import("./providers/livekit.js"),
  janus: () => import("./providers/janus.js"),
};

export async function adapterFor(provider) {
  const load = ADAPTERS[provider];
  if (!load) throw new Error(`No adapter for provider ${provider}`);
  return load();
}
