"""The nightly ledger check, scheduled in the database (django-celery-beat).

A row rather than a ``CELERY_BEAT_SCHEDULE`` setting so that an administrator can
move or pause it in the admin without a deploy; a migration rather than seed_demo so
that production gets it too. Created only if missing: a schedule an administrator
changed is never reset.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Nightly ledger check"


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    # 02:30 WITA (Sulawesi Tengah): after the day's postings, before the first shift.
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Asia/Makassar",
    )
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="inventory.tasks.check_ledger",
        crontab=crontab,
        enabled=True,
        description="Recompute stock balances from the ledger and log every mismatch.",
    )
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task="inventory.tasks.check_ledger").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0003_reference_data"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
