"""App config for recordings: the consent ledger and recordings; it takes part in rooms' writes
through rooms.signals."""

from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "recordings"

    def ready(self) -> None:
        from recordings.services.consent import consent_notice_require
        from rooms.signals import room_recordable

        room_recordable.connect(consent_notice_require, dispatch_uid="consent_notice_require")
