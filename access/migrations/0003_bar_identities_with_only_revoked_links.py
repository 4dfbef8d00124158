"""Identities whose every link in a room is revoked were kept out by a rule on Invitation; that
rule now lives in ParticipantRemoval rows, so record those bars as already carried out."""

from django.db import migrations
from django.db.models import Count, Max, Q


def bar_revoked_identities(apps, schema_editor):
    Invitation = apps.get_model("tokens", "Invitation")
    ParticipantRemoval = apps.get_model("tokens", "ParticipantRemoval")
    identities = (
        Invitation.objects.values("room_id", "identity")
        .annotate(active=Count("id", filter=Q(revoked_at__isnull=True)), revoked_at=Max("revoked_at"))
        .filter(active=0)
    )
    ParticipantRemoval.objects.bulk_create(
        [
            ParticipantRemoval(
                room_id=row["room_id"],
                identity=row["identity"],
                reason="link_revoked",
                requested_at=row["revoked_at"],
                done_at=row["revoked_at"],
            )
            for row in identities.iterator()
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("tokens", "0002_participant_removal")]

    operations = [migrations.RunPython(bar_revoked_identities, migrations.RunPython.noop)]
