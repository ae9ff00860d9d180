"""Plane's production settings for the api, less the API-log middleware (plane-k3s).

Plane v1.2.2's APITokenLogMiddleware (plane/middleware/logger.py) publishes a Celery task for every
/api/v1 call with the raw X-Api-Key and the response body: the broker writes both to its volume
before any worker drops the task. The api runs with DJANGO_SETTINGS_MODULE=plane.settings.plane_k3s
(this file, mounted beside Plane's own settings): the middleware is gone, nothing else changes.
"""

from plane.settings.production import *  # noqa: F401,F403
from plane.settings.production import MIDDLEWARE as _PLANE_MIDDLEWARE

API_LOG_MIDDLEWARE = "plane.middleware.logger.APITokenLogMiddleware"
MIDDLEWARE = [m for m in _PLANE_MIDDLEWARE if m != API_LOG_MIDDLEWARE]
