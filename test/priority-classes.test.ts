/**
 * Which pods the kubelet evicts first under node pressure (PriorityClasses, by the stack model's zones)
 * and what each container may write to the node's disk (ephemeral-storage).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'cdk8s';
import { buildStack } from '../main';
import { quantityToBytes } from '../lib/config/quantity';
import { PRIORITY_TIERS, PRIORITY_VALUES, priorityTier } from '../lib/constructs/priority-classes';
import { chartFiles } from '../lib/synth';
import { containersOf, Manifest, podTemplates, siteWith } from './helpers';

const MiB = 2 ** 20;
/** system-cluster-critical: every class of the stack must stay far below the cluster's own. */
const SYSTEM_CLUSTER_CRITICAL = 2_000_000_000;

function stack(change?: (tree: Manifest) => void) {
  const site = siteWith(change);
  const model = buildStack(new App({ outdir: 'unused' }), site);
  const manifests = model.charts.flatMap((c) => c.toJson()) as Manifest[];
  return { site, model, manifests };
}

const { site, model, manifests } = stack();
const classes = manifests.filter((m) => m.kind === 'PriorityClass');
const classNamed = (name: string): Manifest | undefined => classes.find((c) => c.metadata.name === name);
const valueOf = (name: string): number => classNamed(name)?.value;
const templateOf = (kind: string, name: string, namespace: string) => {
  const found = podTemplates(manifests).find((t) => t.kind === kind && t.name === name && t.workload.metadata.namespace === namespace);
  if (!found) throw new Error(`no ${kind} ${namespace}/${name}`);
  return found.template;
};

/** What the stack promises, written out (not derived from priorityTier): component → class suffix. */
const EXPECTED_TIER: Readonly<Record<string, string>> = {
  postgres: 'data',
  redis: 'data',
  rabbitmq: 'data',
  'object-store': 'data',
  caddy: 'serving',
  api: 'serving',
  web: 'app',
  admin: 'app',
  space: 'app',
  live: 'app',
  worker: 'app',
  'beat-worker': 'app',
};

describe('PriorityClasses', () => {
  it('are four, named after the stack namespace, ordered data > serving > app > jobs, far below the system classes', () => {
    assert.deepEqual(
      classes.map((c) => c.metadata.name),
      PRIORITY_TIERS.map((t) => `${site.kubernetes.namespace}-${t}`),
    );
    const values = classes.map((c) => c.value);
    assert.deepEqual(
      values,
      [...values].sort((a, b) => b - a),
    );
    assert.equal(new Set(values).size, values.length, 'each class its own value');
    assert.ok(valueOf('plane-data') > valueOf('plane-serving'));
    assert.ok(valueOf('plane-serving') > valueOf('plane-app'));
    assert.ok(valueOf('plane-app') > valueOf('plane-jobs'));
    for (const c of classes) {
      assert.ok(c.value > 0 && c.value <= SYSTEM_CLUSTER_CRITICAL / 1000, `${c.metadata.name}: ${c.value}`);
      assert.equal(c.globalDefault ?? false, false, `${c.metadata.name} must not be the cluster's default`);
      assert.ok(c.description.length > 10);
    }
  });

  it('let only the data services preempt: nothing of ours can evict a data service to be scheduled', () => {
    assert.deepEqual(Object.fromEntries(classes.map((c) => [c.metadata.name, c.preemptionPolicy])), {
      'plane-data': 'PreemptLowerPriority',
      'plane-serving': 'Never',
      'plane-app': 'Never',
      'plane-jobs': 'Never',
    });
  });

  it('are in the first file of dist/, with the namespace, before any pod that names one', () => {
    const files = chartFiles(model.charts);
    const first = files[0];
    assert.deepEqual(
      first.objects.filter((o) => o.kind === 'PriorityClass').map((o) => (o.metadata as Manifest).name),
      classes.map((c) => c.metadata.name),
    );
    const firstPod = first.objects.findIndex((o) => ['Job', 'Deployment', 'StatefulSet', 'CronJob'].includes(o.kind as string));
    const lastClass = first.objects.map((o) => o.kind).lastIndexOf('PriorityClass');
    assert.ok(firstPod === -1 || lastClass < firstPod, 'the classes come before the first workload of the file');
    for (const file of files.slice(1)) assert.ok(!file.objects.some((o) => o.kind === 'PriorityClass'), file.file);
  });

  it("give each workload of the model its zone's class: data last evicted, then the edge and the api, then the rest, Jobs first", () => {
    assert.ok(model.workloads.length >= 19, `${model.workloads.length} workloads`);
    for (const w of model.workloads) {
      const pod = templateOf(w.kind, w.name, w.namespace).spec;
      const tier = w.kind === 'Job' || w.kind === 'CronJob' ? 'jobs' : EXPECTED_TIER[w.component];
      assert.ok(tier, `no expected class for ${w.kind} ${w.component}: add it to EXPECTED_TIER`);
      assert.equal(pod.priorityClassName, `${model.namespace}-${tier}`, `${w.kind} ${w.namespace}/${w.name} (zone ${w.zone})`);
      assert.equal(priorityTier({ kind: w.kind, zone: w.zone, serves: w.endpoint !== undefined }), tier, w.name);
      if (w.zone === 'data' && w.kind === 'StatefulSet') assert.equal(tier, 'data');
    }
    // Every class a pod names exists in dist/ (the API server refuses a pod whose class does not).
    for (const { name, template } of podTemplates(manifests)) {
      assert.ok(classNamed(template.spec.priorityClassName), `${name}: ${template.spec.priorityClassName}`);
    }
  });

  it('rank Caddy, in its own namespace, with the stack it fronts; a stack in another namespace has its own classes', () => {
    const other = stack((tree) => {
      tree.kubernetes.namespace = 'plane-staging';
    });
    const names = other.manifests.filter((m) => m.kind === 'PriorityClass').map((c) => c.metadata.name);
    assert.deepEqual(
      names,
      PRIORITY_TIERS.map((t) => `plane-staging-${t}`),
    );
    for (const t of podTemplates(other.manifests)) assert.ok(names.includes(t.template.spec.priorityClassName), t.name);
    const caddy = podTemplates(other.manifests).find((t) => t.name === 'plane-caddy');
    assert.equal(caddy?.workload.metadata.namespace, 'plane-edge');
    assert.equal(caddy?.template.spec.priorityClassName, 'plane-staging-serving');
  });

  it('values follow PRIORITY_VALUES', () => {
    for (const tier of PRIORITY_TIERS) assert.equal(valueOf(`plane-${tier}`), PRIORITY_VALUES[tier]);
  });
});

describe('ephemeral storage', () => {
  for (const { kind, name, template } of podTemplates(manifests)) {
    it(`${kind} ${name}: every container requests and limits it, from its logs and the emptyDirs it mounts`, () => {
      const volumes = new Map<string, Manifest>((template.spec.volumes ?? []).map((v: Manifest) => [v.name, v]));
      for (const c of containersOf(template)) {
        const request = c.resources?.requests?.['ephemeral-storage'];
        const limit = c.resources?.limits?.['ephemeral-storage'];
        assert.ok(request && limit, `${c.name}: ephemeral-storage request and limit`);
        const emptyDirs = (c.volumeMounts ?? [])
          .map((m: Manifest) => volumes.get(m.name))
          .filter((v: Manifest | undefined) => v?.emptyDir !== undefined) as Manifest[];
        const sizes = emptyDirs.map((v) => {
          assert.ok(v.emptyDir.sizeLimit, `${c.name}: emptyDir ${v.name} has a sizeLimit`);
          return quantityToBytes(v.emptyDir.sizeLimit);
        });
        // The pod's disk use (logs, emptyDirs) is evicted above the sum of its limits: each emptyDir's
        // own cap must bind first, so the limit covers its logs and every emptyDir it writes to.
        assert.equal(quantityToBytes(limit), 64 * MiB + sizes.reduce((a, b) => a + b, 0), `${c.name} limit`);
        assert.ok(quantityToBytes(request) >= 32 * MiB && quantityToBytes(request) <= quantityToBytes(limit), `${c.name} request`);
      }
    });
  }

  it("requests the backups' whole scratch space (site backup.storage) for each step that mounts it, and only logs elsewhere", () => {
    const scratch = quantityToBytes(site.backup.storage);
    let mountingScratch = 0;
    for (const { kind, name, template } of podTemplates(manifests)) {
      const volumes = new Map<string, Manifest>((template.spec.volumes ?? []).map((v: Manifest) => [v.name, v]));
      for (const c of containersOf(template)) {
        // A writable path caps temp files and is not requested; a scratch volume is filled by design.
        const requested = (c.volumeMounts ?? [])
          .map((m: Manifest) => volumes.get(m.name))
          .filter((v: Manifest | undefined) => v?.emptyDir && !v.name.startsWith('writable-'))
          .map((v: Manifest) => quantityToBytes(v.emptyDir.sizeLimit));
        if (requested.includes(scratch)) mountingScratch += 1;
        const request = quantityToBytes(c.resources.requests['ephemeral-storage']);
        assert.equal(request, 32 * MiB + requested.reduce((a: number, b: number) => a + b, 0), `${name}/${c.name}`);
        if (kind !== 'CronJob') assert.equal(request, 32 * MiB, `${name}/${c.name}: logs only`);
      }
    }
    // backup 3 steps, restore 3, drill 3, rehearsal 2 (its migration step sees only the signals volume).
    assert.equal(mountingScratch, 11);
  });
});
