"""App config for webhooks: inbound media-server events."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
