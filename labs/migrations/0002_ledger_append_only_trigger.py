"""On PostgreSQL the database itself refuses to change or delete a ledger row.

The model and its queryset already refuse, but raw SQL, a shell or another client would not go
through them. TRUNCATE (test-database flushes, a deliberate restore) is not affected. SQLite keeps
the application-level guard only: Django's test flush deletes rows there one table at a time.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION labs_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'compute ledger entries are append-only: record a correction instead of %%', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""
TRIGGER = """
CREATE TRIGGER labs_ledger_append_only
BEFORE UPDATE OR DELETE ON labs_computecontribution
FOR EACH ROW EXECUTE FUNCTION labs_ledger_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS labs_ledger_append_only ON labs_computecontribution;
DROP FUNCTION IF EXISTS labs_ledger_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)
        schema_editor.execute(TRIGGER)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("labs", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
