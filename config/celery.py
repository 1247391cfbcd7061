"""The Celery app. In production Redis is the broker and beat drives the market clock."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("vehicle_exchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
