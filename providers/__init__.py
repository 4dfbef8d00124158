"""The only code that talks to a media server. Everything else uses `providers.get(name)`."""

from providers.registry import get

__all__ = ("get",)
