"""A tamper-evident audit trail: audit events form hash chains (market/services/audit.py).

Events already stored are chained in primary key order, one chain per instrument plus `market`.
On PostgreSQL the immutability trigger of 0002 is switched off for that one backfill and on
again in the same transaction.
"""

import hashlib
import json
from datetime import UTC

import django.utils.timezone
from django.db import migrations, models

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "chain",
    "seq",
    "prev_hash",
    "action",
    "actor_id",
    "instrument_id",
    "order_id",
    "data",
    "created_at",
)
TRIGGER = "market_auditevent_immutable"


def _hash(event):
    # A frozen copy of market.services.audit.audit_hash as of this migration.
    canonical = {name: getattr(event, name) for name in HASHED_FIELDS}
    canonical["created_at"] = event.created_at.astimezone(UTC).isoformat(timespec="microseconds")
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("market", "AuditEvent")
    AuditChain = apps.get_model("market", "AuditChain")
    on_postgres = schema_editor.connection.vendor == "postgresql"
    if on_postgres:
        schema_editor.execute(f"ALTER TABLE market_auditevent DISABLE TRIGGER {TRIGGER};")
    heads = {}
    batch = []
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=2000):
        event.chain = "market" if event.instrument_id is None else f"instrument:{event.instrument_id}"
        seq, previous = heads.get(event.chain, (0, GENESIS_HASH))
        event.seq = seq + 1
        event.prev_hash = previous
        event.hash = _hash(event)
        heads[event.chain] = (event.seq, event.hash)
        batch.append(event)
        if len(batch) >= 1000:
            AuditEvent.objects.bulk_update(batch, ["chain", "seq", "prev_hash", "hash"])
            batch = []
    if batch:
        AuditEvent.objects.bulk_update(batch, ["chain", "seq", "prev_hash", "hash"])
    AuditChain.objects.bulk_create(
        [AuditChain(name=name, last_seq=seq, last_hash=last) for name, (seq, last) in heads.items()]
    )
    if on_postgres:
        schema_editor.execute(f"ALTER TABLE market_auditevent ENABLE TRIGGER {TRIGGER};")


class Migration(migrations.Migration):
    dependencies = [("market", "0004_rollups")]

    operations = [
        migrations.CreateModel(
            name="AuditChain",
            fields=[
                ("name", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("last_seq", models.PositiveBigIntegerField(default=0)),
                ("last_hash", models.CharField(default=GENESIS_HASH, max_length=64)),
            ],
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.CharField(default="", max_length=40),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        # Reversing leaves the columns to the field removals: nothing to undo in the rows.
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "seq"), name="audit_chain_seq_unique"
            ),
        ),
    ]
