"""PostgreSQL refuses UPDATE and DELETE on the immutable tables.

TRUNCATE stays allowed: it is what the test runner's flush uses, and only the table owner can.
"""

from django.db import migrations

IMMUTABLE_TABLES = (
    "market_trade",
    "market_ledgertransaction",
    "market_ledgerentry",
    "market_auctionrecord",
    "market_auditevent",
)

# %% because the statement goes through the driver's parameter substitution.
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION market_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%% rows are immutable: %% refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTION)
    for table in IMMUTABLE_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION market_refuse_change();"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in IMMUTABLE_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS market_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("market", "0001_initial")]

    operations = [
        migrations.RunPython(create_triggers, drop_triggers),
    ]
