"""The Worker model is WorkerHeartbeat (the process is bms.worker.runtime.Worker).

The table keeps its name (tasks_worker): the table is pinned first, so the rename changes only
the model's state and no data moves.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0003_read_object_task"),
    ]

    operations = [
        migrations.AlterModelTable(name="worker", table="tasks_worker"),
        migrations.RenameModel(old_name="Worker", new_name="WorkerHeartbeat"),
    ]
