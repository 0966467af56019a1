"""alokon project package. The Celery app is loaded here so that ``shared_task`` binds to it."""

from alokon.celery import app as celery_app

__all__ = ("celery_app",)
