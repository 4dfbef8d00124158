"""Convene's settings (DJANGO_SETTINGS_MODULE=config.settings), read from the environment with
django-environ, one module per concern in the manner of the HackSoftware Django Styleguide Example.

Development defaults are safe to run on a laptop; with DEBUG off, startup refuses missing,
default or short secrets (checks.py). Every secret can also be read from a file named by
`<NAME>_FILE` (env.py `secret`). A part that needs another's value imports it from that part;
the parts are listed from Django's own settings outwards, and no two define the same setting.
"""

# ruff: noqa: I001 (the order above, not the alphabet's)

from config.settings.base import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.cache import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.providers import *  # noqa: F403
from config.settings.rooms import *  # noqa: F403
from config.settings.access import *  # noqa: F403
from config.settings.recordings import *  # noqa: F403
from config.settings.webhooks import *  # noqa: F403
from config.settings.security import *  # noqa: F403
from config.settings.api import *  # noqa: F403
from config.settings.logging import *  # noqa: F403
from config.settings.checks import refuse_weak_production_settings

if not DEBUG:  # noqa: F405
    refuse_weak_production_settings()
