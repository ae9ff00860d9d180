/**
 * An S3 service elsewhere instead of the in-cluster Garage (`data.objectStore.external`): Plane signs
 * for that endpoint, which browsers reach directly, so the edge no longer routes the bucket; the api,
 * the worker and the backups reach it on 443 only; its credentials are the operator's Secret.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { find, Manifest, siteWith, synth, useExternal } from './helpers';

const EXTERNAL = { endpoint: 'https://s3.eu-west-3.example.org', credentialsSecret: 'plane-s3', cidrs: ['198.51.100.0/24'] };
const manifests = synth(
  siteWith((s) => {
    useExternal(s, 'objectStore', EXTERNAL);
  }),
);
const egressTo = (name: string) =>
  (find(manifests, 'NetworkPolicy', name).spec.egress as Manifest[])
    .filter((r) => r.to.some((p: Manifest) => p.ipBlock?.cidr === '198.51.100.0/24'))
    .map((r) => r.ports.map((p: Manifest) => p.port));

describe('external object store', () => {
  it('runs no Garage and makes no key for it', () => {
    assert.equal(manifests.filter((m) => m.metadata?.name === 'plane-object-store').length, 0);
    const spec = JSON.parse(find(manifests, 'ConfigMap', 'plane-secrets-files').data['secrets.json']);
    assert.equal(
      spec.secrets.some((s: Manifest) => s.name === 'plane-object-store'),
      false,
    );
  });

  it("lets Plane sign for the store's own endpoint, with the operator's credentials", () => {
    const env = find(manifests, 'ConfigMap', 'plane-api-env').data;
    assert.equal(env.USE_MINIO, '0');
    assert.equal(env.MINIO_ENDPOINT_SSL, undefined);
    assert.equal(env.AWS_S3_ENDPOINT_URL, EXTERNAL.endpoint);
    assert.equal(env.AWS_S3_BUCKET_NAME, 'uploads');
    const api = find(manifests, 'Deployment', 'plane-api').spec.template.spec.containers[0];
    assert.deepEqual(api.env.find((e: Manifest) => e.name === 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef, {
      name: 'plane-s3',
      key: 'secret-access-key',
    });
  });

  it('no longer routes the bucket at the edge, nor lets the edge or the api through to it', () => {
    const caddyfile = find(manifests, 'ConfigMap', 'plane-caddy-files').data.Caddyfile as string;
    assert.doesNotMatch(caddyfile, /\/uploads/);
    assert.match(caddyfile, /@api path \/api\/\* \/auth\/\* \/static\/\*/);
    assert.deepEqual(egressTo('plane-caddy'), []);
    const apiToEdge = (find(manifests, 'NetworkPolicy', 'plane-api').spec.egress as Manifest[]).filter((r) =>
      r.ports.some((p: Manifest) => p.port === 8443),
    );
    assert.deepEqual(apiToEdge, []);
  });

  it('lets the api, the worker and the backups reach it on 443, nothing else', () => {
    for (const name of ['plane-api', 'plane-worker', 'plane-backup']) assert.deepEqual(egressTo(name), [[443]], name);
    for (const name of ['plane-web', 'plane-beat-worker', 'plane-live', 'plane-migrator']) {
      assert.deepEqual(
        (find(manifests, 'NetworkPolicy', name).spec.egress ?? []).filter((r: Manifest) => r.to.some((p: Manifest) => p.ipBlock)),
        [],
        name,
      );
    }
  });

  it('mirrors the uploads from that endpoint in the backups', () => {
    const env = find(manifests, 'ConfigMap', 'plane-backup-env').data;
    assert.equal(env.RCLONE_CONFIG_STORE_ENDPOINT, EXTERNAL.endpoint);
  });

  it('refuses an endpoint that is not https', () => {
    assert.throws(
      () =>
        siteWith((s) => {
          useExternal(s, 'objectStore', { ...EXTERNAL, endpoint: 'http://s3.example.org' });
        }),
      /data\.objectStore\.external\.endpoint: expected the https:\/\/ URL/,
    );
  });
});
