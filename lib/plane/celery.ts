/**
 * How the worker and the beat-worker run Celery: Plane's app through plane-k3s' harness module
 * (lib/plane/celery/plane_k3s_celery.py: liveness file, webhook tasks, the API activity log task
 * dropped, task arguments kept out of the logs), mounted read-only from the component's ConfigMap.
 */
import { mountedScripts, SCRIPTS_PATH } from '../scripts';
import { execProbes, ProbeSet } from '../probes';
import { TMP_PATH } from './images';

/** Touched from the worker's event loop and at each beat tick; the liveness probe checks its age. */
export const CELERY_LIVENESS_FILE = `${TMP_PATH}/celery-alive`;
export const CELERY_LIVENESS_PERIOD_SECONDS = 15;
/** A file older than this means a hung process (8 missed touches). */
const STALE_AFTER_MINUTES = 2;
/** Task modules Plane's CELERY_IMPORTS forgets (makeplane/plane#9357): their tasks would be discarded. */
export const MISSING_TASK_MODULES = ['plane.bgtasks.webhook_task'];

const MODULES = ['plane_k3s_celery.py', 'plane_k3s_beat.py'];

/** The harness modules by mount path, for the component's ConfigMap. */
export function celeryHarnessFiles(): Record<string, string> {
  return mountedScripts('lib/plane/celery', MODULES);
}

export const CELERY_HARNESS_ENV = {
  PYTHONPATH: SCRIPTS_PATH,
  CELERY_LIVENESS_FILE,
  CELERY_LIVENESS_PERIOD_SECONDS: String(CELERY_LIVENESS_PERIOD_SECONDS),
};

/** The celery arguments of the worker; the concurrency and the per-child cap are read from the environment at start. */
export function workerArgs(concurrencyVariable: string, maxMemoryVariable: string): string {
  return `-A plane_k3s_celery worker -l info --concurrency="$${concurrencyVariable}" --max-memory-per-child="$${maxMemoryVariable}" -I ${MISSING_TASK_MODULES.join(',')}`;
}

/** The celery arguments of the beat-worker. */
export const BEAT_ARGS = '-A plane_k3s_celery beat -l info -S plane_k3s_beat:LivenessDatabaseScheduler';

/**
 * The same cheap check (busybox sh and find, no Python) for startup, readiness and liveness: readiness
 * makes a rollout wait until the new process really consumes or schedules; `startupSeconds` covers
 * wait_for_migrations on a first install.
 */
export function celeryProbes(startupSeconds: number): ProbeSet {
  return execProbes(['sh', '-c', `test -n "$(find ${CELERY_LIVENESS_FILE} -mmin -${STALE_AFTER_MINUTES} 2>/dev/null)"`], startupSeconds);
}
