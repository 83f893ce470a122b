"""The four built-in profiles (bms.profiles.built_in), which were Python templates before."""

from django.db import migrations


def seed(apps, schema_editor):
    from bms.profiles import built_in

    built_in.seed(apps.get_model("profiles", "DeviceProfile"), apps.get_model("profiles", "ProfileObject"))


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
