"""A published consent notice is what people agreed to: on PostgreSQL a trigger refuses changing
its text, hash, version or application, and deleting it."""
from django.db import migrations

CREATE = """
CREATE TRIGGER recordings_consentnotice_fixed
    BEFORE UPDATE ON recordings_consentnotice
    FOR EACH ROW
    WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.text_hash IS DISTINCT FROM NEW.text_hash
          OR OLD.version IS DISTINCT FROM NEW.version OR OLD.application_id IS DISTINCT FROM NEW.application_id)
    EXECUTE FUNCTION convene_refuse_change();
CREATE TRIGGER recordings_consentnotice_kept
    BEFORE DELETE ON recordings_consentnotice
    FOR EACH ROW EXECUTE FUNCTION convene_refuse_change();
"""
DROP = """
DROP TRIGGER IF EXISTS recordings_consentnotice_fixed ON recordings_consentnotice;
DROP TRIGGER IF EXISTS recordings_consentnotice_kept ON recordings_consentnotice;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("recordings", "0002_consent_append_only_and_reviewers_group")]
    operations = [migrations.RunPython(create_triggers, drop_triggers)]
