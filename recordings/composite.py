"""One composite file of a call from a per-track recording: Janus's .mjr files (one per publisher
stream) converted with janus-pp-rec, then mixed with ffmpeg (audio mixed, video tiles in a grid,
each stream placed at the time its first packet arrived), then probed with ffprobe.

Files and subprocesses only: no database, no storage. Every tool runs within the caller's deadline
(a time.monotonic() value); a failure is a ToolFailed naming the tool with a bounded excerpt of
what it printed.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ERROR_EXCERPT_CHARS = 1500
TILE_WIDTH, TILE_HEIGHT, FRAME_RATE = 640, 480, 15
# videoroom-<room>-user-<publisher>-<microseconds>-<audio|video|data>-<m-line index>.mjr
MJR_NAME = re.compile(r"-user-(?P<publisher>[^/]+?)-(?P<created>\d+)-(?P<kind>audio|video|data)-(?P<mindex>\d+)\.mjr$")


class ToolFailed(Exception):
    """janus-pp-rec, ffmpeg or ffprobe failed, timed out or is missing: permanent for these files."""

    def __init__(self, tool: str, detail: str):
        super().__init__(f"{tool}: {detail}"[: ERROR_EXCERPT_CHARS + 200])
        self.tool = tool


@dataclass(frozen=True)
class Track:
    path: Path
    publisher: str
    kind: str  # audio, video
    first_packet_us: int  # wall-clock microseconds of the first packet Janus wrote


@dataclass(frozen=True)
class Probe:
    duration_seconds: float
    size_bytes: int
    codecs: tuple[str, ...]


def run_tool(args: list[str], *, deadline: float) -> str:
    """Run a media tool; its stdout, or ToolFailed with the end of what it printed."""
    tool = Path(args[0]).name
    timeout = deadline - time.monotonic()
    if timeout <= 0:
        raise ToolFailed(tool, "not started: the time allowed for post-processing is used up")
    try:
        # The arguments are tool names and paths this module builds, never text from a request.
        done = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise ToolFailed(tool, f"timed out after {timeout:.0f}s (RECORDING_PROCESS_TIMEOUT_SECONDS)") from None
    except FileNotFoundError:
        raise ToolFailed(tool, "not installed (apt-get install janus-tools ffmpeg)") from None
    if done.returncode != 0:
        excerpt = (done.stderr.strip() or done.stdout.strip())[-ERROR_EXCERPT_CHARS:]
        raise ToolFailed(tool, f"exited with status {done.returncode}: {excerpt}")
    return done.stdout


def raw_files(source_dir: str, prefix: str) -> list[Path]:
    """The recording's .mjr files: in `source_dir`, named `<prefix>…`, never outside the folder."""
    folder = Path(source_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{glob_escape(prefix)}*.mjr") if p.is_file() and p.parent == folder)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def media_tracks(files: list[Path], *, deadline: float) -> list[Track]:
    """Audio and video tracks that hold media (a stream that never sent a packet is left out)."""
    tracks = []
    for path in files:
        match = MJR_NAME.search(path.name)
        if match is None or match["kind"] == "data":
            continue
        try:
            printed = run_tool(["janus-pp-rec", "-o", "-j", str(path)], deadline=deadline).splitlines()
        except ToolFailed:
            run_tool(["janus-pp-rec", "-o", "-H", str(path)], deadline=deadline)  # -j prints no reason; -H does
            raise
        header = json.loads(next((line for line in reversed(printed) if line.startswith("{")), "{}"))
        if header.get("u"):
            tracks.append(Track(path, match["publisher"], match["kind"], int(header["u"])))
    return tracks


def make_composite(tracks: list[Track], *, output: Path, workdir: Path, deadline: float) -> None:
    """Convert each track, then write `output` (WebM: VP8 tiles in a grid, Opus mixed)."""
    if not tracks:
        raise ToolFailed("janus-pp-rec", "the recording holds no audio or video packets")
    start = min(t.first_packet_us for t in tracks)
    inputs, video, audio = [], [], []
    for index, track in enumerate(tracks):
        converted = workdir / f"{index}.{'webm' if track.kind == 'video' else 'opus'}"
        run_tool(["janus-pp-rec", "-o", str(track.path), str(converted)], deadline=deadline)
        inputs += ["-i", str(converted)]
        (video if track.kind == "video" else audio).append((index, (track.first_packet_us - start) / 1_000_000))
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs]
    command += ["-filter_complex", _filter_graph(video, audio)]
    if video:
        command += ["-map", "[v]", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"]
    if audio:
        command += ["-map", "[a]", "-c:a", "libopus", "-b:a", "64k"]
    run_tool([*command, "-f", "webm", str(output)], deadline=deadline)


def _filter_graph(video: list[tuple[int, float]], audio: list[tuple[int, float]]) -> str:
    """Each input delayed to its place on the call's timeline; video tiles in a grid, audio mixed."""
    parts = []
    for n, (index, offset) in enumerate(video):
        fit = f"scale={TILE_WIDTH}:{TILE_HEIGHT}:force_original_aspect_ratio=decrease"
        pad = f"pad={TILE_WIDTH}:{TILE_HEIGHT}:(ow-iw)/2:(oh-ih)/2"
        parts.append(f"[{index}:v]{fit},{pad},setsar=1,fps={FRAME_RATE},tpad=start_duration={offset:.3f}[v{n}]")
    if len(video) == 1:
        parts.append("[v0]null[v]")
    elif video:
        columns = math.ceil(math.sqrt(len(video)))
        cells = "|".join(f"{(n % columns) * TILE_WIDTH}_{(n // columns) * TILE_HEIGHT}" for n in range(len(video)))
        tiles = "".join(f"[v{n}]" for n in range(len(video)))
        parts.append(f"{tiles}xstack=inputs={len(video)}:layout={cells}:fill=black[v]")
    for n, (index, offset) in enumerate(audio):
        parts.append(f"[{index}:a]adelay={round(offset * 1000)}:all=1[a{n}]")
    if audio:
        voices = "".join(f"[a{n}]" for n in range(len(audio)))
        parts.append(f"{voices}amix=inputs={len(audio)}:duration=longest:normalize=0[a]")
    return ";".join(parts)


def probe(path: Path, *, deadline: float) -> Probe:
    out = run_tool(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration,size:stream=codec_name", "-of", "json", str(path)],
        deadline=deadline,
    )
    data = json.loads(out)
    fmt = data.get("format", {})
    if "duration" not in fmt:
        raise ToolFailed("ffprobe", "the composite has no duration")
    codecs = tuple(stream.get("codec_name", "") for stream in data.get("streams", []))
    return Probe(float(fmt["duration"]), int(fmt.get("size") or path.stat().st_size), codecs)
