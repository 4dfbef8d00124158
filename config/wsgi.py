"""WSGI entry point (gunicorn config.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Everything loaded so far (Django, the URL conf's views and serializers, the LiveKit protobuf
# descriptors: about 140,000 objects) lives as long as the process. Freezing moves it out of the
# garbage collector's reach, so the full collections that request garbage triggers scan only
# what requests create, not the whole process (bench/README.md). Whatever is first imported after
# this line is collected as usual: import the long-lived modules before it.
gc.freeze()
