"""Drop the single-column indexes of a reading's subject (point, virtual object).

The (subject, timestamp) indexes serve every lookup by subject, and every index is paid on
every reading stored. Only the indexes are dropped: Django's own AlterField would drop and
re-add the foreign keys too, and re-adding one validates every row of the readings table
(minutes on a site's years of history), so the database side is written out here.
"""

from django.db import migrations, models

INDEXES = {
    "point_id": "devices_bacnetreading_point_id_29fc373d",
    "virtual_object_id": "devices_bacnetreading_virtual_object_id_c9723c30",
}


def _drop(column: str) -> migrations.RunSQL:
    name = INDEXES[column]
    return migrations.RunSQL(
        sql=f'DROP INDEX IF EXISTS "{name}"',
        reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON "devices_bacnetreading" ("{column}")',
    )


def _unindexed(name: str, to: str) -> migrations.AlterField:
    field = models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=models.deletion.CASCADE,
        related_name="readings",
        to=to,
    )
    return migrations.AlterField(model_name="bacnetreading", name=name, field=field)


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0010_learned_capabilities"),
        ("virtual", "0004_profile"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[_drop("point_id"), _drop("virtual_object_id")],
            state_operations=[
                _unindexed("point", "devices.bacnetpoint"),
                _unindexed("virtual_object", "virtual.virtualobject"),
            ],
        )
    ]
