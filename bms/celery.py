"""The Celery application of the docker backend: Redis broker, one queue per BACnet site.

The web process only sends messages (by task name, see bms.tasks.backends.docker); it never
imports worker code. The BACnet worker (`manage.py bacnet_worker`) reads its site's queue itself
(bms.worker.celery_consumer); a stock `celery -A bms worker` pointed at the queue refuses the
messages (bms.tasks.celery_tasks), as it has no BACnet stack.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bms.settings")

app = Celery("bms")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Our apps keep Celery tasks in `celery_tasks.py` (bms.tasks.tasks would read oddly).
app.autodiscover_tasks(["bms.tasks"], related_name="celery_tasks")
