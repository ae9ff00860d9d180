/**
 * What Plane v1.2.2's images need to run hardened (read from makeplane/plane at tag v1.2.2:
 * the apps' Dockerfiles, apps/api/bin/docker-entrypoint-{api,worker,beat,migrator}.sh, apps/api/plane/settings/). None of the
 * images sets USER, so each gets an explicit non-root identity it works with.
 */
import { RunAs } from '../hardening';

/** nginx:alpine's nginx user (web and admin serve static files with nginx on port 3000). */
export const NGINX_USER: RunAs = { user: 101, group: 101 };
/** node:22-alpine's node user (space and live). */
export const NODE_USER: RunAs = { user: 1000, group: 1000 };
/** python:3.12-alpine has no app user; /code is chmod 777, so any non-root id works. */
export const BACKEND_USER: RunAs = { user: 10001, group: 10001 };

/** Port every Plane frontend process listens on. */
export const FRONTEND_PORT = 3000;
/** Port gunicorn binds in the api. */
export const API_PORT = 8000;

/** nginx (compiled-in paths): temp files under /var/cache/nginx, pid and lock under /run. */
export const NGINX_WRITABLE_PATHS = ['/var/cache/nginx', '/run'];
/** Every Django process opens /code/plane/logs/plane-error.log at start. */
/** The backend image's working directory: Plane's Django project (manage.py, the plane package). */
export const BACKEND_CODE_PATH = '/code';
export const BACKEND_LOG_PATH = `${BACKEND_CODE_PATH}/plane/logs`;
/** collectstatic writes here on each api start. */
export const BACKEND_STATIC_PATH = '/code/plane/static-assets';
/** gunicorn worker heartbeats; temp files of tasks. */
export const TMP_PATH = '/tmp';

/** Image names under the Plane registry. */
export const PLANE_IMAGES = {
  web: 'plane-frontend',
  space: 'plane-space',
  admin: 'plane-admin',
  live: 'plane-live',
  backend: 'plane-backend',
} as const;

/** Health endpoints (reference: "Health endpoints"); the seed's /api/health/ does not exist in CE. */
export const HEALTH_PATHS = {
  web: '/',
  space: '/spaces/',
  admin: '/god-mode/',
  live: '/live/health',
  api: '/',
} as const;

/** Paths the proxy routes to each frontend (apps/proxy/Caddyfile.ce); also the apps' base paths. */
export const BASE_PATHS = {
  space: '/spaces',
  admin: '/god-mode',
  live: '/live',
} as const;
