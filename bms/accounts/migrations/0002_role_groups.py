"""The role groups (viewer, operator, admin) exist from the first migrate."""

from django.db import migrations

ROLES = ("viewer", "operator", "admin")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    # Reversing leaves the groups: they may hold users an admin assigned by hand.
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
