import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBudget, reservedFootprint, totalFootprint, workloadFootprints } from '../lib/budget';
import { cpuToMillicores, quantityToBytes } from '../lib/config/quantity';
import { componentTemplate, containersOf, find, podTemplates, siteWith, synth } from './helpers';

const manifests = synth();

describe('resources', () => {
  for (const { kind, name, template } of podTemplates(manifests)) {
    for (const container of containersOf(template)) {
      it(`${kind} ${name}/${container.name} has CPU and memory requests and limits, requests within limits`, () => {
        const { requests, limits } = container.resources ?? {};
        for (const resource of ['cpu', 'memory']) {
          assert.ok(requests?.[resource], `no ${resource} request`);
          assert.ok(limits?.[resource], `no ${resource} limit`);
        }
        assert.ok(cpuToMillicores(requests.cpu) <= cpuToMillicores(limits.cpu));
        assert.ok(quantityToBytes(requests.memory) <= quantityToBytes(limits.memory));
      });
    }
  }

  it("keeps the seed's limits for web (512Mi, 0.5 CPU) and api (1Gi, 1 CPU); the worker keeps 0.5 CPU and the memory two exports need", () => {
    const seed: Record<string, [string, number]> = { web: ['512Mi', 500], api: ['1Gi', 1000], worker: ['768Mi', 500] };
    for (const [component, [memory, millicores]] of Object.entries(seed)) {
      const limits = containersOf(componentTemplate(manifests, component).template)[0].resources.limits;
      assert.equal(quantityToBytes(limits.memory), quantityToBytes(memory), `${component} memory`);
      assert.equal(cpuToMillicores(limits.cpu), millicores, `${component} cpu`);
    }
  });

  it('bounds the process counts: gunicorn workers and celery concurrency come from the site config', () => {
    const site = siteWith((s) => {
      s.components.api.gunicornWorkers = 3;
      s.components.worker.concurrency = 1;
    });
    const changed = synth(site);
    assert.equal(find(changed, 'ConfigMap', 'plane-api-env').data.GUNICORN_WORKERS, '3');
    assert.equal(find(changed, 'ConfigMap', 'plane-worker-env').data.CELERY_WORKER_CONCURRENCY, '1');
    const worker = containersOf(componentTemplate(changed, 'worker').template)[0];
    // Without --concurrency celery starts one process per node CPU, whatever the memory limit.
    assert.match(worker.command.join(' '), /exec celery -A plane_k3s_celery worker .*--concurrency="\$CELERY_WORKER_CONCURRENCY"/);
  });

  it('fits the VPS: at most 4.75 GiB of memory limits for what runs all the time, 3 GiB of requests in all (Jobs too)', () => {
    const total = reservedFootprint(workloadFootprints(manifests));
    const running = totalFootprint(workloadFootprints(manifests.filter((m) => !['Job', 'CronJob'].includes(m.kind))));
    assert.ok(running.limitsBytes <= 4.75 * 1024 ** 3, `limits ${running.limitsBytes}`);
    assert.ok(total.requestsBytes <= 3 * 1024 ** 3, `requests ${total.requestsBytes}`);
  });

  it('counts replicas in the footprint', () => {
    const one = workloadFootprints(manifests).find((w) => w.name === 'plane-web');
    const two = workloadFootprints(
      synth(
        siteWith((s) => {
          s.components.web.replicas = 2;
        }),
      ),
    ).find((w) => w.name === 'plane-web');
    assert.ok(one && two);
    assert.equal(two.requestsBytes, 2 * one.requestsBytes);
  });

  it('counts the templates run by hand (suspended CronJobs: restore, rehearsal) once, as the largest; scheduled ones all', () => {
    const workloads = workloadFootprints(manifests);
    const onDemand = workloads.filter((w) => w.onDemand).map((w) => w.name);
    assert.deepEqual(onDemand.sort(), ['plane-backup-rehearsal', 'plane-backup-restore']);
    const largest = Math.max(...workloads.filter((w) => w.onDemand).map((w) => w.requestsBytes));
    const scheduled = totalFootprint(workloads.filter((w) => !w.onDemand));
    assert.equal(reservedFootprint(workloads).requestsBytes, scheduled.requestsBytes + largest);
    assert.ok(reservedFootprint(workloads).requestsBytes < totalFootprint(workloads).requestsBytes, 'less than the sum');
    // A template made a schedule counts in full.
    const scheduledRestore = manifests.map((m) =>
      m.kind === 'CronJob' && m.metadata.name === 'plane-backup-restore' ? { ...m, spec: { ...m.spec, suspend: false } } : m,
    );
    const restore = workloads.find((w) => w.name === 'plane-backup-restore')?.requestsBytes ?? 0;
    assert.equal(reservedFootprint(workloadFootprints(scheduledRestore)).requestsBytes, scheduled.requestsBytes + restore + largest);
  });

  it('rejects a stack whose requests exceed vps.budget, naming the budget', () => {
    const site = siteWith((s) => {
      s.vps.budget.memory = '1Gi';
    });
    assert.throws(() => checkBudget(site, synth(site)), /memory requests .* exceed vps\.budget\.memory \(1Gi\)/);
    const cpuSite = siteWith((s) => {
      s.vps.budget.cpu = '500m';
    });
    assert.throws(() => checkBudget(cpuSite, synth(cpuSite)), /CPU requests .* exceed vps\.budget\.cpu \(500m\)/);
    assert.doesNotThrow(() => checkBudget(siteWith(), manifests));
  });
});
