"""Consent events are append-only in the database too (PostgreSQL trigger, the function from
core 0002), and the "Recording reviewers" group carries the review permission."""
from django.db import migrations

TRIGGER = """
CREATE TRIGGER recordings_consentevent_append_only
    BEFORE UPDATE OR DELETE ON recordings_consentevent
    FOR EACH ROW EXECUTE FUNCTION convene_refuse_change();
"""
DROP = "DROP TRIGGER IF EXISTS recordings_consentevent_append_only ON recordings_consentevent;"
GROUP = "Recording reviewers"


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


def create_reviewers_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("recordings")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=GROUP)
    permission = apps.get_model("auth", "Permission").objects.get(
        codename="review_recording", content_type__app_label="recordings"
    )
    group.permissions.add(permission)


def remove_reviewers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recordings", "0001_initial"),
        ("core", "0002_audit_event_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.RunPython(create_reviewers_group, remove_reviewers_group),
    ]
