"""The beat-worker's scheduler: Plane's (django_celery_beat's DatabaseScheduler), touching the
liveness file at every tick so the kubelet restarts a hung beat (see plane_k3s_celery).

A module of its own: beat imports the scheduler by name once Django is set up, which importing the
scheduler's models needs.
"""
from django_celery_beat.schedulers import DatabaseScheduler

from plane_k3s_celery import touch_liveness_file


class LivenessDatabaseScheduler(DatabaseScheduler):
    def tick(self, *args, **kwargs):
        touch_liveness_file()
        return super().tick(*args, **kwargs)
