"""Default duplicate rules, and the blocking index of every existing account and contact."""

from django.db import migrations


def forwards(apps, schema_editor) -> None:
    from l2c.apps.customers.duplicates import DEFAULT_RULES, keys_rebuild

    rule_model = apps.get_model("customers", "DuplicateRule")
    for object_type, rules in DEFAULT_RULES.items():
        if rule_model.objects.filter(object_type=object_type).exists():
            continue
        rule_model.objects.bulk_create(
            rule_model(object_type=object_type, key=key, label=label, kind=kind, field=field, threshold=threshold,
                       action=action, position=position)
            for position, (key, label, kind, field, threshold, action) in enumerate(rules))
    for object_type in DEFAULT_RULES:
        keys_rebuild(object_type)


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_duplicate_control")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
