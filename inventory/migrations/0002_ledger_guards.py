from django.db import migrations

from inventory.migrations.sql import run_sql_file


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [run_sql_file("0002_ledger_guards")]
