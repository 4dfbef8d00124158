"""App config for rooms."""

from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "rooms"
