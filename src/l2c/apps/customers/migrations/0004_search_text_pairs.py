"""Recompute `search_text` of every account and contact: it now also holds each pair of neighbouring
Chinese characters (validation.search_text), which searches of two or more characters use. The
full-text indexes follow the rows (SQLite triggers, PostgreSQL expression index)."""

from django.db import migrations

CHUNK = 5_000


def _recompute(apps, schema_editor, model_name: str, parts: tuple[str, ...]) -> None:
    from l2c.apps.customers.validation import search_text

    model = apps.get_model("customers", model_name)
    table = model._meta.db_table
    connection = schema_editor.connection
    last_id = 0
    while True:
        rows = list(model.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", *parts)[:CHUNK])
        if not rows:
            return
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET search_text = %s WHERE id = %s",  # noqa: S608 (constant table name)
                [(search_text(*(value or "" for value in values)), pk) for pk, *values in rows],
            )
        last_id = rows[-1][0]


def forwards(apps, schema_editor) -> None:
    _recompute(apps, schema_editor, "Account", ("name", "short_name"))
    _recompute(apps, schema_editor, "Contact", ("name", "mobile", "email"))


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_search_index")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
