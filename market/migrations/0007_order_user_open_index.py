from django.conf import settings
from django.db import migrations, models

from market.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction; the orders table stays writable.
    atomic = False

    dependencies = [
        ("market", "0006_marketevent_phase_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="order",
            index=models.Index(
                condition=models.Q(("status__in", ["open", "partially_filled"])),
                fields=["user"],
                name="order_user_open",
            ),
        ),
    ]
