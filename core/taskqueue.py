"""The event flow's doorbell: publish a Celery task with one Redis LPUSH (`publish_task`).

For a task published with positional arguments and default options to a plain `redis://` broker,
`publish_task` sends the very message `apply_async` builds, changing only what differs per message:
the task id, the delivery tag and the arguments. The template is taken from Celery itself, once per
task and process (kombu's in-memory transport; nothing leaves the process), so a Celery or kombu
upgrade that changes the message changes the template with it. Any other case (eager mode, a broker
other than plain redis://, a key prefix, a priority, a result to keep, an exchange that routes through
bindings) goes through `apply_async`. What must stay in sync with kombu: the connection bounds of a
publish (CELERY_BROKER_TRANSPORT_OPTIONS socket timeouts, no retry) are copied from the app's
configuration. tests/core/test_publish.py holds the two messages side by side.

The app is Celery's current one (config/celery.py creates it when settings load): core does not
import config.
"""

import base64
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from functools import cache

import redis
from celery import current_app
from celery.utils.saferepr import saferepr
from kombu import Connection
from redis.backoff import NoBackoff
from redis.retry import Retry


@dataclass(frozen=True)
class _Template:
    key: str  # the Redis list the worker pops (the queue's name at priority 0)
    parts: tuple[str, ...]  # the message's JSON, split around its per-message slots (odd items)
    body_tail: str  # what follows the arguments in a protocol-2 body: kwargs, then callbacks etc.

    def render(self, args: tuple, reply_to: str) -> str:
        task_id = json.dumps(str(uuid.uuid4()))
        body = f"[{json.dumps(list(args))}{self.body_tail}".encode()
        values = {
            "body": json.dumps(base64.b64encode(body).decode()),
            "id": task_id,
            "argsrepr": json.dumps(saferepr(args)),
            "delivery_tag": json.dumps(str(uuid.uuid4())),
            "reply_to": json.dumps(reply_to),
        }
        return "".join(values[part] if n % 2 else part for n, part in enumerate(self.parts))


_SLOT = re.compile(r'"@slot:(body|id|argsrepr|delivery_tag|reply_to)@"')


class _RedisPublisher:
    def __init__(self, url: str, options: dict) -> None:
        # The bounds kombu's publish has (CELERY_BROKER_TRANSPORT_OPTIONS): a publish that cannot
        # reach Redis fails within the socket timeouts, without retrying; the row waits for the sweeper.
        pool = redis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=options.get("socket_connect_timeout"),
            socket_timeout=options.get("socket_timeout"),
            retry=Retry(NoBackoff(), 0),
        )
        # One connection, used directly rather than through a redis.Redis client, opened on first
        # use and again after a failure.
        self.connection = pool.make_connection()
        self.templates: dict[str, _Template | None] = {}
        self.lock = threading.Lock()

    def template(self, task) -> _Template | None:
        if task.name not in self.templates:
            with self.lock:
                self.templates[task.name] = _template_from_celery(task)
        return self.templates[task.name]

    def _ready(self) -> None:
        """Connected, and not to a server that has since gone (a restart): redis-py's pool checks
        a connection the same way before handing it out."""
        connection = self.connection
        connection.connect()  # nothing to do when connected
        try:
            if connection.can_read():  # a reply nobody asked for, or end of file
                raise redis.ConnectionError("the connection has unread data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            connection.disconnect()
            connection.connect()

    def send(self, template: _Template, args: tuple, reply_to: str) -> None:
        message = template.render(args, reply_to)
        with self.lock:
            try:
                self._ready()
                self.connection.send_command("LPUSH", template.key, message)
                self.connection.read_response()  # raises an error reply (ResponseError) too
            except BaseException:
                self.connection.disconnect()  # no half-read reply may meet the next command
                raise


def _template_from_celery(task) -> _Template | None:
    """The message Celery builds for `task(0)`, published to kombu's in-memory transport (nothing
    leaves the process) and read back; None when it is not one this module can send as is."""
    with Connection("memory://localhost/") as connection:
        task.apply_async((0,), connection=connection, retry=False)
        channel = connection.default_channel
        queues = [name for name, queue in channel.queues.items() if queue.qsize()]
        if len(queues) != 1:
            return None
        envelope = channel._get(queues[0])
    headers, properties = envelope["headers"], envelope["properties"]
    delivery = properties.get("delivery_info", {})
    plain = (
        envelope.get("content-type") == "application/json"
        and properties.get("body_encoding") == "base64"
        and delivery.get("exchange") == ""  # straight to the queue named by the routing key
        and not properties.get("priority")
        and headers.get("ignore_result") is True  # no reply_to, no result to wait for
        and headers.get("eta") is None
        and headers.get("expires") is None
        and headers.get("id") == headers.get("root_id") == properties.get("correlation_id")
    )
    if not plain:
        return None
    args, kwargs, embed = json.loads(base64.b64decode(envelope["body"]))
    if args != [0] or kwargs != {}:
        return None
    slots = {
        **envelope,
        "body": "@slot:body@",
        "headers": {**headers, "id": "@slot:id@", "root_id": "@slot:id@", "argsrepr": "@slot:argsrepr@"},
        # reply_to is Celery's per-thread app id (app.thread_oid): the publishing thread's, not the
        # one that happened to build the template.
        "properties": {
            **properties,
            "correlation_id": "@slot:id@",
            "delivery_tag": "@slot:delivery_tag@",
            "reply_to": "@slot:reply_to@",
        },
    }
    return _Template(
        key=delivery["routing_key"],
        parts=tuple(_SLOT.split(json.dumps(slots))),
        body_tail=f", {json.dumps(kwargs)}, {json.dumps(embed)}]",
    )


_publisher_by_pid: dict[int, _RedisPublisher | None] = {}


def _publisher(app) -> _RedisPublisher | None:
    pid = os.getpid()  # a forked process (gunicorn worker) opens its own connections
    if pid not in _publisher_by_pid:
        conf = app.conf
        options = conf.broker_transport_options or {}
        url = conf.broker_url or ""
        fast = (
            url.startswith("redis://")  # not rediss://: kombu's TLS options (broker_use_ssl) are not ours to copy
            and _is_plain_redis(Connection(url, transport=conf.broker_transport).transport_cls)
            and not options.get("global_keyprefix")
        )
        _publisher_by_pid.clear()
        _publisher_by_pid[pid] = _RedisPublisher(url, options) if fast else None
    return _publisher_by_pid[pid]


@cache
def _celery_app():
    """The process's Celery app (config/celery.py's), looked up once per process: this is on the
    webhook path, and every attribute read through celery's `current_app` proxy resolves it again."""
    return current_app._get_current_object()


def _is_plain_redis(transport) -> bool:
    """kombu's Redis transport (or core.broker's), not Sentinel or anything else."""
    from kombu.transport import redis as kombu_redis
    from kombu.transport import resolve_transport
    from kombu.utils.imports import symbol_by_name

    cls = symbol_by_name(resolve_transport(transport)) if isinstance(transport, str) else transport
    return issubclass(cls, kombu_redis.Transport) and not issubclass(cls, kombu_redis.SentinelTransport)


def publish_task(task, args: tuple) -> None:
    """`task.apply_async(args, retry=False)`, in one LPUSH where the message allows it. Raises
    what the broker raises when it cannot be reached (within the configured socket timeouts)."""
    app = _celery_app()
    publisher = None if app.conf.task_always_eager else _publisher(app)
    template = publisher.template(task) if publisher is not None else None
    if template is None:
        task.apply_async(args, retry=False)
    else:
        publisher.send(template, args, app.thread_oid)
