"""Optional sampling profile of the gunicorn workers during a measured window (`run.py --profile`).

Uses py-spy (`.venv/bin/pip install py-spy`; not a project requirement) and summarises where the
workers' CPU time went, by function, inclusive and self. Sampling costs some CPU: figures taken
while profiling are marked as such and are not for comparison with unprofiled runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLING_RATE = 200  # per second; enough for a 15 s window, cheap enough not to swamp 2 cores
_LINE_NUMBER = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def start_recording(*, pid: int, seconds: float, output: Path) -> subprocess.Popen:
    binary = py_spy()
    if binary is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    command = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--nonblocking",
        "--gil",  # only samples holding the GIL: where the workers spend CPU, not where they wait
        "--rate",
        str(SAMPLING_RATE),
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish_recording(process: subprocess.Popen, seconds: float) -> None:
    _, errors = process.communicate(timeout=seconds + 60)
    if process.returncode != 0:
        raise RuntimeError(f"py-spy failed: {errors.strip()[-2000:]}")


def _frames(stack: str) -> list[str]:
    # py-spy's raw lines read "process;thread;frame;frame... count"; a frame is "function (file:line)".
    frames = [frame for frame in stack.split(";") if frame.endswith(")") and ":" in frame]
    return [_LINE_NUMBER.sub(")", _shorten(frame)) for frame in frames]


def _shorten(frame: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head}({tail.split(marker, 1)[-1]}"
    return frame


def summarise(raw: Path, *, top: int = 30) -> dict:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count

    def share(counter: Counter[str]) -> list[dict]:
        return [{"percent": round(100 * n / total, 1), "frame": frame} for frame, n in counter.most_common(top)]

    return {"samples": total, "inclusive": share(inclusive), "self": share(own)}
