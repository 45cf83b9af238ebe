"""The blocking index of every existing account and contact (the default rules are created after
migrate, see CustomersConfig)."""

from django.db import migrations


def forwards(apps, schema_editor) -> None:
    from l2c.apps.customers.duplicates import DEFAULT_RULES, keys_rebuild

    for object_type in DEFAULT_RULES:
        keys_rebuild(object_type)


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_duplicate_control")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
