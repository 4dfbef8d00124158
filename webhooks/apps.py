"""App config for webhooks (its features arrive with their issues)."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
