/**
 * The guards constructs and helpers keep for values the site schema already refuses (or that only a
 * programming mistake can produce): each is triggered here, so none is dead code that would let a bad
 * manifest through if the schema changed.
 */
import { kubeApiServer } from '../lib/network/site-peers';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { cpuToMillicores, quantityToBytes } from '../lib/config/quantity';
import { parseImageReference } from '../lib/config/primitives';
import { AppDeployment } from '../lib/constructs/app-deployment';
import { ComponentConfig } from '../lib/constructs/component-config';
import { SecretsBootstrap } from '../lib/constructs/secrets-bootstrap';
import { Backups } from '../lib/data/backups';
import { VersionedJob } from '../lib/constructs/versioned-job';
import { Rabbitmq } from '../lib/data/rabbitmq';
import { renderCaddyfile } from '../lib/edge/caddyfile';
import { siteCaddyfileOptions } from '../lib/edge/edge-site';
import { planeRouting } from '../lib/edge/plane-routes';
import { hardenedPodSpec } from '../lib/hardening';
import { WorkloadLabels } from '../lib/labels';
import { ComponentNetworkPolicy } from '../lib/network/component-network-policy';
import { withDiagram } from '../lib/network/network-doc';
import { loadExpectedMatrix } from '../lib/network/expected-matrix';
import { synthesize } from '../lib/synth';
import { siteWith } from './helpers';

const scope = () => new Chart(new App(), 'test');
const labels = new WorkloadLabels({ instance: 'javisi', name: 'x', zone: 'backend', version: 'v1' });
const resources: k8s.ResourceRequirements = {
  requests: { cpu: k8s.Quantity.fromString('10m'), memory: k8s.Quantity.fromString('16Mi') },
  limits: { cpu: k8s.Quantity.fromString('100m'), memory: k8s.Quantity.fromString('64Mi') },
};
const app = { namespace: 'plane', labels, image: 'x:1.0', runAs: { user: 1000, group: 1000 }, resources };

describe('construct guards', () => {
  it('hardenedPodSpec refuses root', () => {
    assert.throws(
      () => hardenedPodSpec({ runAs: { user: 0, group: 1 }, containers: [], priorityClassName: 'plane-app' }),
      /must not be 0 \(root\)/,
    );
    assert.throws(
      () => hardenedPodSpec({ runAs: { user: 1, group: 0 }, containers: [], priorityClassName: 'plane-app' }),
      /must not be 0 \(root\)/,
    );
  });

  it('hardenedPodSpec refuses a hostPort open on every node address', () => {
    const container = { name: 'c', image: 'x:1.0', resources, ports: [{ containerPort: 8080, hostPort: 80 }] };
    assert.throws(
      () => hardenedPodSpec({ runAs: app.runAs, containers: [container], priorityClassName: 'plane-app' }),
      /a hostPort must be bound to one address \(hostIp\)/,
    );
  });

  it('hardenedPodSpec refuses an emptyDir volume without a sizeLimit, or in memory (its ephemeral storage could not be bounded)', () => {
    const container = { name: 'c', image: 'x:1.0', resources, volumeMounts: [{ name: 'scratch', mountPath: '/work' }] };
    for (const emptyDir of [{}, { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Gi') }]) {
      assert.throws(
        () =>
          hardenedPodSpec({
            runAs: app.runAs,
            containers: [container],
            volumes: [{ name: 'scratch', emptyDir }],
            priorityClassName: 'plane-app',
          }),
        /emptyDir scratch must be on disk with a sizeLimit/,
      );
    }
  });

  it('AppDeployment refuses a Recreate strategy with several replicas', () => {
    assert.throws(() => new AppDeployment(scope(), 'd', { ...app, name: 'x', strategy: 'Recreate', replicas: 2 }), /replicas must be 1/);
  });

  it('AppDeployment has no Service endpoint when it serves no port', () => {
    const deployment = new AppDeployment(scope(), 'd', { ...app, name: 'x' });
    assert.throws(() => deployment.serviceEndpoint, /x serves no port/);
  });

  it('ComponentConfig refuses a variable set both as secret and plain value', () => {
    assert.throws(
      () =>
        new ComponentConfig(scope(), 'c', {
          namespace: 'plane',
          name: 'x',
          labels,
          env: { A: '1' },
          secretEnv: { A: { secretName: 's', key: 'k' } },
        }),
      /A set both as secret and as plain value/,
    );
  });

  it('ComponentConfig refuses two config files with the same name', () => {
    assert.throws(
      () =>
        new ComponentConfig(scope(), 'c', {
          namespace: 'plane',
          name: 'x',
          labels,
          files: { '/etc/a/app.conf': '1', '/etc/b/app.conf': '2' },
        }),
      /two config files named app\.conf/,
    );
  });

  it('VersionedJob refuses a name longer than 63 characters', () => {
    assert.throws(
      () => new VersionedJob(scope(), 'j', { ...app, baseName: 'plane-migrator', version: `v1.2.2-${'x'.repeat(40)}` }),
      /longer than 63 characters/,
    );
  });

  it('Rabbitmq needs a memory limit to size its watermark', () => {
    const noLimit = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '' } };
    assert.throws(
      () =>
        new Rabbitmq(scope(), 'r', {
          ...app,
          user: 'plane',
          vhost: 'plane',
          storage: '1Gi',
          storageClass: 'local-path',
          resources: noLimit,
        }),
      /a memory limit is required/,
    );
  });

  it('SecretsBootstrap refuses a key made two ways', () => {
    const ref = { secretName: 'plane-x', key: 'k' };
    assert.throws(
      () =>
        new SecretsBootstrap(scope(), 's', {
          ...app,
          version: 'v1',
          apiServer: kubeApiServer(siteWith()),
          secretKeys: [
            { ref, generate: 'hex16' },
            { ref, value: 'v' },
          ],
        }),
      /key k of Secret plane-x is made two ways/,
    );
  });

  it('Backups refuses to keep no snapshot', () => {
    const site = siteWith();
    const postgres = {
      host: 'p',
      port: 5432,
      peer: { name: 'p', cidrs: [] },
      database: 'plane',
      user: 'plane',
      password: { secretName: 's', key: 'k' },
      secretKeys: [],
    };
    const objectStore = {
      host: 'o',
      port: 3900,
      peer: { name: 'o', cidrs: [] },
      endpointUrl: 'http://o:3900',
      servedThroughEdge: true,
      region: 'us-east-1',
      bucket: 'uploads',
      accessKeyId: { secretName: 's', key: 'a' },
      secretAccessKey: { secretName: 's', key: 'b' },
      secretKeys: [],
    };
    assert.throws(
      () =>
        new Backups(scope(), 'b', {
          namespace: 'plane',
          labels,
          restoreLabels: labels,
          drillLabels: labels,
          rehearsalLabels: labels,
          rehearsalMigration: { image: 'p:1.0', resources: {} },
          postgres,
          objectStore,
          postgresImage: 'x:1.0',
          rcloneImage: 'y:1.0',
          resticImage: 'z:1.0',
          planeVersion: 'v1.2.2',
          schedule: site.backup.schedule,
          drillSchedule: site.backup.drill.schedule,
          keep: 0,
          storage: '1Gi',
          storageClass: 'local-path',
          resources,
        }),
      /keep must be a whole number of snapshots, at least 1/,
    );
  });

  it('ComponentNetworkPolicy refuses a component no flow touches', () => {
    const component = { name: 'lonely', namespace: 'plane', podSelector: { a: 'b' } };
    assert.throws(() => new ComponentNetworkPolicy(scope(), 'p', { component, flows: [], labels: {} }), /no flow starts or ends at lonely/);
  });
});

describe('renderer and helper guards', () => {
  const upstream = { host: 'h', port: 1 };
  const upstreams = { web: upstream, space: upstream, admin: upstream, live: upstream, api: upstream, objectStore: upstream };
  const options = siteCaddyfileOptions(siteWith(), upstreams);

  it("planeRouting refuses a bucket shadowed by one of Plane's routes", () => {
    assert.throws(() => planeRouting('static'), /bucket "static" would be shadowed/);
  });

  it('renderCaddyfile refuses an empty allow-list and a routing without one catch-all route, last', () => {
    assert.throws(() => renderCaddyfile({ ...options, allowedCidrs: [] }), /allowedCidrs is empty/);
    const routes = options.routing.routes;
    assert.throws(
      () => renderCaddyfile({ ...options, routing: { ...options.routing, routes: routes.slice(0, -1) } }),
      /exactly one route without paths, last/,
    );
    assert.throws(
      () => renderCaddyfile({ ...options, routing: { ...options.routing, routes: [...routes].reverse() } }),
      /exactly one route without paths, last/,
    );
    // The bucket routed while no store upstream is given (an external store is not served by the edge).
    assert.throws(
      () => renderCaddyfile({ ...options, upstreams: { ...upstreams, objectStore: undefined } }),
      /sends requests to objectStore, which has no upstream/,
    );
  });

  it('quantities and image references that are not', () => {
    assert.throws(() => cpuToMillicores('1 CPU'), /not a CPU quantity/);
    assert.throws(() => quantityToBytes('1 GB'), /not a byte quantity/);
    assert.throws(() => parseImageReference('Not An Image'), /not an image reference/);
  });

  it('synthesize refuses a side file inside or outside the folder beside the output', () => {
    const site = siteWith();
    const build = () => ({ charts: [] });
    assert.throws(
      () => synthesize(build, { site, outdir: '/tmp/plane-guard/dist', sideFiles: () => ({ 'dist/x.json': '{}' }) }),
      /must be a relative path beside dist\/, not in it/,
    );
    assert.throws(
      () => synthesize(build, { site, outdir: '/tmp/plane-guard/dist', sideFiles: () => ({ '../x.json': '{}' }) }),
      /must be a relative path beside dist\//,
    );
  });

  it('withDiagram refuses a document without its markers', () => {
    assert.throws(() => withDiagram('# no markers\n', loadExpectedMatrix()), /lacks the markers/);
  });
});
