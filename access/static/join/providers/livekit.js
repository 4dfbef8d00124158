// LiveKit adapter: livekit-client (the pinned UMD build, global LivekitClient, served from
// Convene's static files) connects to the LiveKit server named in the join response.

function lk() {
  if (!window.LivekitClient) throw new Error("livekit-client is not loaded");
  return window.LivekitClient;
}

export async function connect({ credentials, stream, onEvent }) {
  const { Room, RoomEvent, Track, ConnectionQuality, DisconnectReason } = lk();
  const room = new Room({ adaptiveStream: true, dynacast: true });
  const emitTiles = () => onEvent({ type: "tiles", tiles: tiles(room, Track) });
  for (const name of ["ParticipantConnected", "ParticipantDisconnected", "TrackSubscribed", "TrackUnsubscribed",
    "LocalTrackPublished", "LocalTrackUnpublished", "TrackMuted", "TrackUnmuted"]) {
    room.on(RoomEvent[name], emitTiles);
  }
  room.on(RoomEvent.Reconnecting, () => onEvent({ type: "reconnecting" }));
  room.on(RoomEvent.Reconnected, () => onEvent({ type: "reconnected" }));
  room.on(RoomEvent.ConnectionQualityChanged, (quality, participant) => {
    if (participant.isLocal) onEvent({ type: "quality", poor: quality === ConnectionQuality.Poor || quality === ConnectionQuality.Lost });
  });
  let leaving = false;
  room.on(RoomEvent.Disconnected, (reason) => {
    if (leaving) return;
    const removed = reason === DisconnectReason.PARTICIPANT_REMOVED;
    const closed = reason === DisconnectReason.ROOM_DELETED || reason === DisconnectReason.ROOM_CLOSED;
    onEvent({ type: "ended", reason: removed ? "removed" : closed ? "ended" : "failed" });
  });
  await room.connect(credentials.server_url, credentials.token);
  for (const track of stream?.getTracks() ?? []) {
    const source = track.kind === "video" ? Track.Source.Camera : Track.Source.Microphone;
    await room.localParticipant.publishTrack(track, { source });
  }
  emitTiles();
  return {
    provider: "livekit",
    room,
    participantSid: () => room.localParticipant.sid,
    setMicrophone: async (on) => (await room.localParticipant.setMicrophoneEnabled(on), on),
    setCamera: async (on) => (await room.localParticipant.setCameraEnabled(on), on),
    setScreenShare: async (on) => {
      try {
        await room.localParticipant.setScreenShareEnabled(on);
        return on;
      } catch {
        return false; // the person cancelled the browser's picker
      }
    },
    leave: async () => {
      leaving = true;
      await room.disconnect();
    },
  };
}

function tiles(room, Track) {
  const participants = [room.localParticipant, ...room.remoteParticipants.values()];
  return participants.map((participant) => {
    const track = (source) => {
      const publication = participant.getTrackPublication(source);
      return publication && !publication.isMuted ? publication.track?.mediaStreamTrack ?? null : null;
    };
    return {
      key: participant.sid || participant.identity,
      name: participant.name || participant.identity,
      local: participant.isLocal,
      video: track(Track.Source.ScreenShare) || track(Track.Source.Camera),
      audio: track(Track.Source.Microphone),
    };
  });
}
