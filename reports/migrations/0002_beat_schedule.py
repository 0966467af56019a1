"""The periodic alert tasks, scheduled in the database (django-celery-beat).

Rows an administrator can move or pause in the admin (like inventory 0004 and 0013),
created only if missing so a changed schedule is never reset:

- 03:00 WITA every alert kind everywhere (after the 02:30 ledger check);
- every 5 minutes the sweep of the alert queue (locations whose wake-up message was
  lost, notifications a crash left undelivered);
- 07:00 WITA the daily digest e-mails (after the 05:00 overdue run, before work).
"""

from django.db import migrations
from django.utils import timezone

TIMEZONE = "Asia/Makassar"

CRONTABS = (
    (
        "Nightly alerts",
        "reports.tasks.compute_all_alerts",
        ("0", "3"),
        "Recompute every alert kind at every location: open, update and resolve alerts.",
    ),
    (
        "Daily alert digests",
        "reports.tasks.send_alert_digests",
        ("0", "7"),
        "E-mail users who chose the daily digest the alerts they have not been e-mailed yet.",
    ),
)
SWEEP = (
    "Alert queue sweep",
    "reports.tasks.sweep_alert_queue",
    5,
    "Recompute the alerts of locations queued by postings whose wake-up message was lost; "
    "deliver notifications a crash left undelivered.",
)


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, (minute, hour), description in CRONTABS:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=TIMEZONE,
        )
        PeriodicTask.objects.create(name=name, task=task, crontab=crontab, enabled=True, description=description)
    name, task, minutes, description = SWEEP
    if not PeriodicTask.objects.filter(name=name).exists():
        interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.create(name=name, task=task, interval=interval, enabled=True, description=description)
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, *_rest in (*CRONTABS, SWEEP):
        PeriodicTask.objects.filter(name=name, task=task).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_alerts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
