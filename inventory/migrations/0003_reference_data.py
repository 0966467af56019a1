from django.db import migrations

from inventory.reference import ensure_reference_data


def forwards(apps, schema_editor):
    ensure_reference_data(
        apps.get_model("inventory", "Product"),
        apps.get_model("inventory", "Location"),
        apps.get_model("inventory", "StockPolicy"),
    )


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_ledger_guards")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
