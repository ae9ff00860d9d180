/**
 * The worker and beat-worker run Plane's Celery app through the harness module: its files are mounted
 * where PYTHONPATH points, the commands name it, and the liveness probe checks the file the harness
 * touches, in a path the container may write. (The harness itself runs against Plane's real backend in
 * test/plane/, when one is given.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { componentTemplate, containersOf, find, Manifest, REPO_ROOT, synth } from './helpers';

const manifests = synth();

function celeryComponent(name: 'worker' | 'beat-worker') {
  const container = containersOf(componentTemplate(manifests, name).template)[0];
  const env = find(manifests, 'ConfigMap', `plane-${name}-env`).data as Record<string, string>;
  const files = find(manifests, 'ConfigMap', `plane-${name}-files`).data as Record<string, string>;
  const command = (container.command as string[]).join(' ');
  return { container, env, files, command, template: componentTemplate(manifests, name).template };
}

describe('celery harness', () => {
  for (const name of ['worker', 'beat-worker'] as const) {
    describe(name, () => {
      const { container, env, files, command, template } = celeryComponent(name);

      it('mounts the harness modules, unchanged, where PYTHONPATH points', () => {
        for (const file of ['plane_k3s_celery.py', 'plane_k3s_beat.py']) {
          assert.equal(files[file], fs.readFileSync(path.join(REPO_ROOT, 'lib', 'plane', 'celery', file), 'utf8'), file);
          const mount = (container.volumeMounts as Manifest[]).find((m) => m.subPath === file);
          assert.ok(mount, `${file} is not mounted`);
          assert.equal(path.posix.dirname(mount.mountPath), env.PYTHONPATH);
          assert.equal(mount.readOnly, true);
        }
      });

      it("runs Plane's app through the harness, after the database and the migrations", () => {
        assert.match(command, /python manage\.py wait_for_db && python manage\.py wait_for_migrations && exec celery -A plane_k3s_celery /);
      });

      it('probes the liveness file the harness touches, in a writable path, with no Python', () => {
        const probe = container.livenessProbe.exec.command.join(' ');
        assert.match(probe, new RegExp(`^sh -c test -n "\\$\\(find ${env.CELERY_LIVENESS_FILE} -mmin -\\d+ `));
        assert.doesNotMatch(probe, /python|celery (inspect|-A)/);
        const writable = (container.volumeMounts as Manifest[])
          .filter((m) => (template.spec.volumes as Manifest[]).some((v) => v.name === m.name && v.emptyDir))
          .map((m) => m.mountPath as string);
        assert.ok(
          writable.some((dir) => env.CELERY_LIVENESS_FILE.startsWith(`${dir}/`)),
          `${env.CELERY_LIVENESS_FILE} is not in ${writable}`,
        );
        // The file is touched every period; it must count as stale only after several missed touches.
        const staleMinutes = Number(/-mmin -(\d+)/.exec(probe)?.[1]);
        assert.ok(staleMinutes * 60 >= 4 * Number(env.CELERY_LIVENESS_PERIOD_SECONDS));
        assert.deepEqual(container.readinessProbe.exec, container.livenessProbe.exec, 'readiness shares the handler');
        assert.ok(
          container.startupProbe.periodSeconds * container.startupProbe.failureThreshold >= 600,
          "waits for a first install's migrations",
        );
      });
    });
  }

  it('the worker imports the task modules Plane forgets, bounds its processes, and never loads the API log task', () => {
    const { command } = celeryComponent('worker');
    assert.match(
      command,
      / worker -l info --concurrency="\$CELERY_WORKER_CONCURRENCY" --max-memory-per-child="\$CELERY_MAX_MEMORY_PER_CHILD" -I plane\.bgtasks\.webhook_task$/,
    );
    const env = find(manifests, 'ConfigMap', 'plane-worker-env').data;
    assert.deepEqual([env.CELERY_WORKER_CONCURRENCY, env.CELERY_MAX_MEMORY_PER_CHILD], ['1', '200000']);
    // The real process_logs would store each request's token and bodies; the harness registers a drop.
    assert.doesNotMatch(command, /logger_task/);
    const harness = fs.readFileSync(path.join(REPO_ROOT, 'lib', 'plane', 'celery', 'plane_k3s_celery.py'), 'utf8');
    assert.match(
      harness,
      /@app\.task\(name=API_ACTIVITY_LOG_TASK, ignore_result=True\)\ndef drop_api_activity_log\(\*args, \*\*kwargs\):\n(.*\n)*?\s+return None/,
    );
  });

  it('the beat-worker schedules with the scheduler that touches the liveness file', () => {
    const { command } = celeryComponent('beat-worker');
    assert.match(command, / beat -l info -S plane_k3s_beat:LivenessDatabaseScheduler$/);
  });
});
