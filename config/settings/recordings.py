"""Recordings (recordings/): where they are stored, playback links, retention, post-processing."""

from __future__ import annotations

from config.settings.env import VAR_DIR, env, secret

# An S3-compatible bucket ("s3"), or a directory the recorder shares with Convene ("file").
RECORDING_STORAGE = env.str("RECORDING_STORAGE", default="file")
RECORDING_FILE_DIR = env.str("RECORDING_FILE_DIR", default=str(VAR_DIR / "recordings"))
# The same directory as the recorder (LiveKit Egress) sees it, when its path differs.
RECORDING_EGRESS_FILE_DIR = env.str("RECORDING_EGRESS_FILE_DIR", default="") or RECORDING_FILE_DIR
RECORDING_S3_BUCKET = env.str("RECORDING_S3_BUCKET", default="")
RECORDING_S3_REGION = env.str("RECORDING_S3_REGION", default="")
RECORDING_S3_ENDPOINT = env.str("RECORDING_S3_ENDPOINT", default="")
RECORDING_S3_PREFIX = env.str("RECORDING_S3_PREFIX", default="recordings/")
RECORDING_S3_FORCE_PATH_STYLE = env.bool("RECORDING_S3_FORCE_PATH_STYLE", default=False)
RECORDING_S3_ACCESS_KEY_ID = secret("RECORDING_S3_ACCESS_KEY_ID")
RECORDING_S3_SECRET_ACCESS_KEY = secret("RECORDING_S3_SECRET_ACCESS_KEY")
# Lifetime of a playback link, in seconds; never more than 300.
RECORDING_PLAYBACK_TTL_SECONDS = min(env.int("RECORDING_PLAYBACK_TTL_SECONDS", default=300), 300)
CONVENE_RETENTION_INTERVAL_SECONDS = env.int("CONVENE_RETENTION_INTERVAL_SECONDS", default=3600)
# Per-track recordings (Janus): the longest any one media tool (janus-pp-rec, ffmpeg, ffprobe) may
# run while making a recording's composite; a run that has not finished after this plus 5 minutes
# (a worker that died) is started again by the sweep, which runs this often.
RECORDING_PROCESS_TIMEOUT_SECONDS = env.int("RECORDING_PROCESS_TIMEOUT_SECONDS", default=1800)
CONVENE_RECORDING_PROCESS_SWEEP_SECONDS = env.int("CONVENE_RECORDING_PROCESS_SWEEP_SECONDS", default=60)
