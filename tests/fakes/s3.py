"""A real S3-compatible HTTP server on 127.0.0.1 for tests (moto's server mode), and the settings
that point Convene's recording storage at it."""

from __future__ import annotations

import boto3
from moto.server import ThreadedMotoServer

ACCESS_KEY, SECRET_KEY, REGION = "testing-access-key", "testing-secret-key-0123456789", "us-east-1"


class S3Server:
    def __init__(self, bucket: str = "convene-recordings"):
        self.bucket = bucket
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self) -> S3Server:
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{self._server._server.server_port}"
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def configure(self, settings) -> None:
        settings.RECORDING_STORAGE = "s3"
        settings.RECORDING_S3_BUCKET = self.bucket
        settings.RECORDING_S3_ENDPOINT = self.endpoint
        settings.RECORDING_S3_REGION = REGION
        settings.RECORDING_S3_ACCESS_KEY_ID = ACCESS_KEY
        settings.RECORDING_S3_SECRET_ACCESS_KEY = SECRET_KEY
        settings.RECORDING_S3_FORCE_PATH_STYLE = True
        settings.RECORDING_S3_PREFIX = "recordings/"

    def exists(self, key: str) -> bool:
        listing = self.client().list_objects_v2(Bucket=self.bucket, Prefix=key)
        return any(item["Key"] == key for item in listing.get("Contents", []))
