"""gunicorn's settings in the web container (and in .ci/smoke, which runs the same command).

Bound to ``0.0.0.0:$PORT`` (gunicorn's own default when PORT is set; the image sets
8000) with ``$WEB_CONCURRENCY`` worker processes (gunicorn reads it; compose sets it).
Its error and access logs are written like the application's (LOG_FORMAT, LOG_LEVEL:
JSON lines on stdout unless DEBUG), so one collector reads every line.
"""

from alokon.env import env_bool, env_choice, env_int, env_str
from alokon.logging import gunicorn_logging_config

_debug = env_bool("DEBUG", False)
logconfig_dict = gunicorn_logging_config(
    log_format=env_choice("LOG_FORMAT", "plain" if _debug else "json", ("json", "plain")),
    level=env_str("LOG_LEVEL", "INFO"),
)
accesslog = "-"
# A request that takes longer is a bug or an export that belongs in the worker.
timeout = env_int("WEB_TIMEOUT", 60, minimum=1)
graceful_timeout = 30
# Heartbeat files of the workers in memory, not on the container's overlay filesystem.
worker_tmp_dir = "/dev/shm"
