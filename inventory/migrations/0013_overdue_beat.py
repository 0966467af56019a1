"""The daily opening of overdue discrepancies, scheduled in the database (django-celery-beat).

Like the nightly ledger check (0004): a row an administrator can move or pause in the
admin, created only if missing so a changed schedule is never reset.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Daily overdue shipments"


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    # 05:00 WITA: after the ledger check, so the morning shift finds the day's overdue list.
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="5",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Makassar",
    )
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="inventory.tasks.open_overdue",
        crontab=crontab,
        enabled=True,
        description="Open an overdue discrepancy for each lot still in transit past its shipment's expected arrival.",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task="inventory.tasks.open_overdue").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0012_reconciliation"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
