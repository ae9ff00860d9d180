"""Plane's Celery app as plane-k3s runs it (worker and beat-worker).

It is Plane's own app (plane.celery, configured from Plane's Django settings) with these additions,
each for a gap of Plane v1.2.2 that the deployment must close (docs/development.md "Worker and beat"):

1. A liveness file, touched from the worker's event loop (and by the beat scheduler's tick): the
   kubelet's probe checks its age with `find`, so a hung process is restarted. Celery has no health
   endpoint, and `celery inspect ping` would start a second Python with Plane's settings inside the
   container's memory limit at every probe.
2. (The webhook tasks, which Plane's CELERY_IMPORTS also lacks, makeplane/plane#9357, are imported
   by the worker's `-I plane.bgtasks.webhook_task`.)
3. The API activity log task accepted and dropped: every /api/v1 request enqueues
   plane.bgtasks.logger_task.process_logs with the raw X-Api-Key and the full request and response
   bodies (makeplane/plane#8928). Unregistered, the worker logs each message at ERROR, token
   included; registered as Plane wrote it, it stores ~10 KB per request for 30 days. Plane CE shows
   these rows nowhere, and in v1.2.2 they were never stored at all (the bug): dropping them keeps that.
4. Task arguments never reach the logs: Plane's JSON log handler prints the `data` Celery attaches to
   its "received" and "succeeded" lines (arguments included), and any text that looks like an API
   token is masked.
"""
import logging
import os
import pathlib
import re

from celery import bootsteps
from celery.signals import after_setup_logger, after_setup_task_logger

from plane.celery import app  # noqa: F401  (the app `celery -A plane_k3s_celery` runs)

LIVENESS_FILE = pathlib.Path(os.environ.get("CELERY_LIVENESS_FILE", "/tmp/celery-alive"))
LIVENESS_PERIOD_SECONDS = float(os.environ.get("CELERY_LIVENESS_PERIOD_SECONDS", "15"))
API_ACTIVITY_LOG_TASK = "plane.bgtasks.logger_task.process_logs"
TOKEN = re.compile(r"plane_api_[0-9a-f]{32}")

logger = logging.getLogger("plane.worker")


def touch_liveness_file():
    LIVENESS_FILE.touch()


class LivenessFile(bootsteps.StartStopStep):
    """Touches the liveness file every period from the consumer's timer (the worker's event loop)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer_entry = None

    def start(self, parent):
        touch_liveness_file()
        self.timer_entry = parent.timer.call_repeatedly(LIVENESS_PERIOD_SECONDS, touch_liveness_file)

    def stop(self, parent):
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None


app.steps["consumer"].add(LivenessFile)

@app.task(name=API_ACTIVITY_LOG_TASK, ignore_result=True)
def drop_api_activity_log(*args, **kwargs):
    """Accepts Plane's API activity log message and keeps nothing of it (see the module's docstring)."""
    return None


class HideTaskArguments(logging.Filter):
    """Removes task arguments from log records and masks API tokens in their text."""

    def filter(self, record):
        data = getattr(record, "data", None)
        if isinstance(data, dict) and ("args" in data or "kwargs" in data):
            record.data = {key: value for key, value in data.items() if key not in ("args", "kwargs")}
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format is left to the handler
            return True
        if TOKEN.search(message):
            record.msg = TOKEN.sub("plane_api_<hidden>", message)
            record.args = None
        return True


HIDE_TASK_ARGUMENTS = HideTaskArguments()


@after_setup_logger.connect
@after_setup_task_logger.connect
def hide_task_arguments(logger=None, **kwargs):
    # Runs after Plane's own receivers (connected when plane.celery was imported), so their JSON
    # handlers are in place: every handler of the logger gets the filter.
    for handler in getattr(logger, "handlers", []):
        if HIDE_TASK_ARGUMENTS not in handler.filters:
            handler.addFilter(HIDE_TASK_ARGUMENTS)
