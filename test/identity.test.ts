import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { componentTemplate, find, Manifest, podTemplates, siteWith, synth } from './helpers';

const manifests = synth();

const RECOMMENDED_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/component',
  'app.kubernetes.io/version',
  'app.kubernetes.io/managed-by',
];
const STABLE_SELECTOR_LABELS = ['app.kubernetes.io/instance', 'app.kubernetes.io/name', 'app.kubernetes.io/part-of'];

describe('stable identity', () => {
  it('names objects without cdk8s hash suffixes', () => {
    for (const m of manifests) {
      assert.doesNotMatch(m.metadata.name, /-c8[0-9a-f]{6}$/, `${m.kind} ${m.metadata.name}`);
      assert.ok(m.metadata.name.length <= 63, `${m.kind} ${m.metadata.name} is too long`);
    }
  });

  it('puts the recommended labels on every object but the namespace, and on every pod template', () => {
    for (const m of manifests.filter((x) => x.kind !== 'Namespace')) {
      for (const label of RECOMMENDED_LABELS) assert.ok(m.metadata.labels?.[label], `${m.kind} ${m.metadata.name} lacks ${label}`);
    }
    for (const { name, template } of podTemplates(manifests)) {
      for (const label of RECOMMENDED_LABELS) assert.ok(template.metadata.labels?.[label], `${name} pod template lacks ${label}`);
    }
  });

  it('selects pods by stable labels only, and the selector matches its own template', () => {
    for (const { kind, name, workload, template } of podTemplates(manifests).filter((t) => !['Job', 'CronJob'].includes(t.kind))) {
      const selector = workload.spec.selector.matchLabels;
      assert.deepEqual(Object.keys(selector).sort(), STABLE_SELECTOR_LABELS, `${kind} ${name}`);
      for (const [key, value] of Object.entries(selector)) assert.equal(template.metadata.labels[key], value);
    }
  });

  it('keeps Deployment and StatefulSet selectors identical across an upgrade (they are immutable)', () => {
    const upgraded = synth(
      siteWith((s) => {
        s.images.plane.tag = 'v1.3.1';
        s.images.postgres = 'docker.io/library/postgres:18.7-alpine';
      }),
    );
    for (const { kind, name, workload } of podTemplates(manifests).filter((t) => t.kind !== 'Job')) {
      assert.deepEqual(find(upgraded, kind, name).spec.selector, workload.spec.selector, `${kind} ${name}`);
    }
  });

  it('makes each Service select the pods of exactly one workload', () => {
    for (const service of manifests.filter((m) => m.kind === 'Service')) {
      const matching = podTemplates(manifests).filter(({ template }) =>
        Object.entries(service.spec.selector).every(([k, v]) => template.metadata.labels[k] === v),
      );
      assert.equal(matching.length, 1, `Service ${service.metadata.name} matches ${matching.length} workloads`);
    }
  });
});

describe('beat-worker and migrator', () => {
  it('runs exactly one beat-worker, never two at once', () => {
    const beat = componentTemplate(manifests, 'beat-worker').workload;
    assert.equal(beat.spec.replicas, 1);
    assert.equal(beat.spec.strategy.type, 'Recreate');
  });

  it('refuses a replica count for the beat-worker in the site config', () => {
    assert.throws(
      () =>
        siteWith((s) => {
          s.components.beatWorker.replicas = 2;
        }),
      /components\.beatWorker\.replicas: unknown key/,
    );
  });

  it('names the migrator Job after the app version; an upgrade makes a new Job', () => {
    const job = componentTemplate(manifests, 'migrator').workload;
    assert.equal(job.kind, 'Job');
    assert.match(job.metadata.name, /^plane-migrator-v1-2-2-[0-9a-f]{8}$/);
    assert.equal(job.spec.ttlSecondsAfterFinished, undefined, 'a deleted Job would be re-created by every apply');
    const upgraded = componentTemplate(
      synth(
        siteWith((s) => {
          s.images.plane.tag = 'v1.3.1';
        }),
      ),
      'migrator',
    ).workload;
    assert.match(upgraded.metadata.name, /^plane-migrator-v1-3-1-/);
  });

  it("lets the migrator wait until Plane can log in to its database (Plane's wait_for_db does not connect), then run Plane's entrypoint", () => {
    const [shell, flag, script] = componentTemplate(manifests, 'migrator').template.spec.containers[0].command;
    assert.deepEqual([shell, flag], ['/bin/sh', '-ec']);
    assert.match(
      script,
      /^until python -c 'import os, psycopg; psycopg\.connect\(os\.environ\["DATABASE_URL"\]\)\.close\(\)' 2>\/dev\/null; do\n.*sleep 5\ndone\nexec \.\/bin\/docker-entrypoint-migrator\.sh$/,
    );
  });

  it('keeps the migrator Job name when only Deployment settings change', () => {
    const job = componentTemplate(manifests, 'migrator').workload;
    const changed = componentTemplate(
      synth(
        siteWith((s) => {
          s.components.api.gunicornWorkers = 3;
          s.components.web.replicas = 2;
        }),
      ),
      'migrator',
    ).workload;
    assert.equal(changed.metadata.name, job.metadata.name);
  });
});

describe('secrets by reference', () => {
  it('puts no Secret object in the manifests', () => {
    assert.deepEqual(
      manifests.filter((m) => m.kind === 'Secret'),
      [],
    );
  });

  it('composes $(VAR) values only from variables defined earlier in the same container', () => {
    for (const { name, template } of podTemplates(manifests)) {
      for (const container of template.spec.containers) {
        const defined = new Set<string>();
        for (const variable of (container.env ?? []) as Manifest[]) {
          for (const [, used] of String(variable.value ?? '').matchAll(/\$\(([A-Z_][A-Z0-9_]*)\)/g)) {
            assert.ok(defined.has(used), `${name}: ${variable.name} uses $(${used}) before it is defined`);
          }
          defined.add(variable.name);
        }
        for (const arg of container.args ?? []) {
          for (const [, used] of String(arg).matchAll(/\$\(([A-Z_][A-Z0-9_]*)\)/g))
            assert.ok(defined.has(used), `${name}: arg uses $(${used})`);
        }
      }
    }
  });

  it('reads every password and key from a Secret, never from a literal', () => {
    const sensitive = /(PASSWORD|SECRET|TOKEN|_KEY$|_PASS$)/;
    for (const { name, template } of podTemplates(manifests)) {
      for (const container of template.spec.containers) {
        for (const variable of (container.env ?? []) as Manifest[]) {
          if (sensitive.test(variable.name)) assert.ok(variable.valueFrom?.secretKeyRef, `${name}: ${variable.name} is not from a Secret`);
        }
      }
    }
    for (const configMap of manifests.filter((m) => m.kind === 'ConfigMap')) {
      for (const key of Object.keys(configMap.data ?? {})) assert.doesNotMatch(key, sensitive, `${configMap.metadata.name}: ${key}`);
    }
  });

  it('sets the URLs Plane needs explicitly, so no Service-link fallback is read', () => {
    const api = componentTemplate(manifests, 'api').template.spec.containers[0];
    const names = (api.env as Manifest[]).map((e) => e.name);
    for (const variable of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL']) assert.ok(names.includes(variable), variable);
    const data = find(manifests, 'ConfigMap', 'plane-api-env').data;
    for (const variable of [
      'GUNICORN_WORKERS',
      'WEB_URL',
      'APP_VERSION',
      'CORS_ALLOWED_ORIGINS',
      'USE_MINIO',
      'AWS_S3_ENDPOINT_URL',
      'AWS_S3_BUCKET_NAME',
      'AWS_REGION',
      'FILE_SIZE_LIMIT',
    ]) {
      assert.ok(data[variable], variable);
    }
    assert.equal(data.APP_VERSION, 'v1.2.2');
    assert.match((api.env as Manifest[]).find((e) => e.name === 'REDIS_URL')?.value, /\/4$/, 'Redis DB index 4');
  });
});
