/**
 * The api's first start against Plane's real v1.2.2 backend (developer-pointed, see ./harness.ts):
 * lib/plane/api/plane_k3s_first_start.py registers the instance through Plane's own register_instance
 * with telemetry off, and queues no trace task, before Plane's entrypoint would register it with
 * telemetry on. Run in a transaction that is rolled back: the backend's instance is left as it was.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers';
import { MANAGE, skip } from './harness';

const PROBE = `
import json
from unittest import mock
from django.db import transaction
from plane.license.models import Instance

class Undo(Exception):
    pass

result = {}
try:
    with transaction.atomic():
        Instance.objects.all().delete()
        with mock.patch("plane.license.bgtasks.tracer.instance_traces.delay") as traces:
            import plane_k3s_first_start
            plane_k3s_first_start.main()
            first = Instance.objects.get()
            result["registered"] = {"telemetry": first.is_telemetry_enabled, "version": first.current_version}
            plane_k3s_first_start.main()
            result["rows after a second start"] = Instance.objects.count()
            from django.core.management import call_command
            call_command("register_instance", "entrypoint")
            result["after Plane's register_instance"] = Instance.objects.get().is_telemetry_enabled
        result["trace tasks queued through the task module"] = traces.call_count
        raise Undo()
except Undo:
    pass
print("RESULT " + json.dumps(result))
`;

describe("the api's first start on Plane's real backend", { skip }, () => {
  it('registers the instance with telemetry off before Plane does, and a later start changes nothing', () => {
    const run = spawnSync(MANAGE as string, ['shell', '--command', PROBE], {
      env: { ...process.env, PYTHONPATH: path.join(REPO_ROOT, 'lib', 'plane', 'api'), PLANE_K3S_TELEMETRY: '0' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `${run.stdout}\n${run.stderr}`.slice(-2000));
    const result = JSON.parse(line.slice('RESULT '.length));
    assert.equal(result.registered.telemetry, false);
    assert.match(result.registered.version, /^v\d+\.\d+\.\d+$/);
    assert.equal(result['rows after a second start'], 1);
    // Plane's entrypoint then finds the row: it updates the versions and leaves telemetry off.
    assert.equal(result["after Plane's register_instance"], false);
    // The first start queued no trace task; Plane's own register_instance queued its one (which finds telemetry off).
    assert.equal(result['trace tasks queued through the task module'], 1);
  });
});
