"""The Celery application of the docker backend: Redis broker, one queue per BACnet site.

Start a worker for a site with `celery -A bms worker -Q bacnet.<site> --pool solo`. The web process
only sends messages (by task name, see bms.tasks.backends.docker); it never imports worker code.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bms.settings")

app = Celery("bms")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Our apps keep Celery tasks in `celery_tasks.py` (bms.tasks.tasks would read oddly).
app.autodiscover_tasks(["bms.tasks"], related_name="celery_tasks")
