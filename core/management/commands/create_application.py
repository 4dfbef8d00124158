"""`manage.py create_application NAME [--json]`: a tenant and its API key, shown only here."""

import json

from django.core.management.base import BaseCommand, CommandError

from core.models import Application
from core.services import application_create


class Command(BaseCommand):
    help = "Create an application (tenant) and print its API key. The key is shown only once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--json", action="store_true", help="print {application_id, api_key} as JSON")

    def handle(self, *args, name: str, **options):
        if Application.objects.filter(name=name).exists():
            raise CommandError(f"an application named {name!r} already exists")
        application, key = application_create(name=name)
        if options["json"]:
            self.stdout.write(json.dumps({"application_id": str(application.pk), "api_key": key}))
        else:
            self.stdout.write(f"Application {application.name} ({application.pk})\nAPI key (shown only now): {key}")
