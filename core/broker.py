"""kombu's Redis and file-system transports, each with one fix.

Redis: one client object per channel for its short commands.

kombu's Redis channel builds a new `redis.Redis` object for every command it sends outside the
BRPOP loop (`conn_or_acquire` -> `_create_client`): in a worker, twice per task (recording the
message as unacknowledged, then the acknowledgement); redis-py's constructor copies a table of
about 170 response callbacks each time. The object is only a handle on the channel's connection
pool, so one per pool serves them all; connections still come from, and go back to, the pool.
Everything else is kombu's. Used for `redis://` broker URLs (CELERY_BROKER_TRANSPORT,
"core.broker:Transport").

File system (the embedded broker of `make run`): kombu's writes a message in place, so a worker
polling the folder can take the file between its creation and its write and die on an empty or
half-written message (seen under load). Here a message is written under a name the worker does not
take, then renamed into place: a rename within one folder is atomic. Used for the embedded
`filesystem://` broker ("core.broker:FilesystemTransport").

Both override private kombu methods (`Channel._create_client`, `filesystem.Channel._put`): a kombu
upgrade must keep their signatures and meaning; tests/core/test_broker.py exercises both.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import filesystem, redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:  # the BRPOP loop's client, made once by kombu already
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:  # a new pool after a reconnect
            client = self._sync_client = super()._create_client(asynchronous=False)
        return client


class Transport(redis.Transport):
    Channel = Channel


class FilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # _get takes only names ending in ".<queue>.msg"
        with open(partial, "wb") as file:
            file.write(str_to_bytes(dumps(payload)))
        os.replace(partial, final)


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel
