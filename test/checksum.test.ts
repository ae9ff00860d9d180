import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configChecksum } from '../lib/checksum';
import { checksumOf, find, Manifest, podTemplates, siteWith, synth } from './helpers';

const baseline = synth();

/** Component name → checksum, for every workload that carries one. */
function checksums(manifests: Manifest[]): Map<string, string | undefined> {
  return new Map(
    podTemplates(manifests)
      .filter((t) => t.kind !== 'Job')
      .map((t) => [t.template.metadata.labels['app.kubernetes.io/name'], checksumOf(t)]),
  );
}

/** Components whose checksum differs between two syntheses. */
function rolled(after: Manifest[]): string[] {
  const before = checksums(baseline);
  return [...checksums(after)]
    .filter(([name, sum]) => before.get(name) !== sum)
    .map(([name]) => name)
    .sort();
}

describe('config change → rollout of exactly its consumers', () => {
  it('every Deployment and StatefulSet carries the digest of exactly the ConfigMaps it consumes', () => {
    for (const ref of podTemplates(baseline).filter((t) => t.kind !== 'Job')) {
      const pod = ref.template.spec;
      const envMaps = pod.containers.flatMap((c: Manifest) => (c.envFrom ?? []).map((e: Manifest) => e.configMapRef?.name)).filter(Boolean);
      const fileMaps = (pod.volumes ?? []).map((v: Manifest) => v.configMap?.name).filter(Boolean);
      assert.ok(envMaps.length <= 1 && fileMaps.length <= 1, `${ref.name}: one env and one files ConfigMap at most`);
      const data = (name?: string) => (name ? find(baseline, 'ConfigMap', name).data : {});
      assert.equal(checksumOf(ref), configChecksum(data(envMaps[0]), data(fileMaps[0])), ref.name);
    }
  });

  it('an api-only value (gunicorn workers) rolls the api and nothing else', () => {
    assert.deepEqual(
      rolled(
        synth(
          siteWith((s) => {
            s.components.api.gunicornWorkers = 3;
          }),
        ),
      ),
      ['api'],
    );
  });

  it('a worker-only value (celery concurrency) rolls the worker and nothing else', () => {
    assert.deepEqual(
      rolled(
        synth(
          siteWith((s) => {
            s.components.worker.concurrency = 2;
          }),
        ),
      ),
      ['worker'],
    );
  });

  it('a value every Django process reads rolls api, worker and beat-worker, and Caddy (its body limit), not the frontends or data', () => {
    assert.deepEqual(
      rolled(
        synth(
          siteWith((s) => {
            s.plane.fileSizeLimit = 10485760;
          }),
        ),
      ),
      ['api', 'beat-worker', 'caddy', 'worker'],
    );
  });

  it('an edge-only value (VPN enforcement) rolls Caddy and nothing else', () => {
    assert.deepEqual(
      rolled(
        synth(
          siteWith((s) => {
            s.edge.vpnEnforce = false;
          }),
        ),
      ),
      ['caddy'],
    );
  });

  it('a RabbitMQ config-file value rolls RabbitMQ only', () => {
    assert.deepEqual(
      rolled(
        synth(
          siteWith((s) => {
            s.data.rabbitmq.resources.limits.memory = '512Mi';
          }),
        ),
      ),
      ['rabbitmq'],
    );
  });

  it('the public host rolls every component that reads it (Caddy serves it), and not web, admin or the data services', () => {
    assert.deepEqual(
      rolled(
        synth(
          siteWith((s) => {
            s.hosts.app = 'plane';
          }),
        ),
      ),
      ['api', 'beat-worker', 'caddy', 'live', 'worker'],
    );
  });
});
