"""App config for outbound: webhooks out, Convene telling a product what happened (the inbound
media-server events are the `webhooks` app)."""

from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Webhooks out"
