import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Manifest, siteWith, synth, useExternal } from './helpers';

const manifests = synth();
/** External PostgreSQL and Redis: fewer StatefulSets, and Services without a selector. */
const external = synth(
  siteWith((s) => {
    useExternal(s, 'postgres', { address: '137.74.114.167', port: 5433 });
    useExternal(s, 'redis', { address: '137.74.114.167', port: 6380 });
  }),
);

const statefulSets = (all: Manifest[]) => all.filter((m) => m.kind === 'StatefulSet');
const services = (all: Manifest[]) => all.filter((m) => m.kind === 'Service');
const isHeadless = (service: Manifest) => service.spec.clusterIP === 'None';
const selects = (service: Manifest, template: Manifest) =>
  Object.keys(service.spec.selector ?? {}).length > 0 &&
  Object.entries(service.spec.selector).every(([k, v]) => template.metadata.labels?.[k] === v);

describe('StatefulSets', () => {
  it('are the four data services (so the checks below are not vacuous)', () => {
    assert.deepEqual(
      statefulSets(manifests)
        .map((s) => s.metadata.name)
        .sort(),
      ['plane-object-store', 'plane-postgres', 'plane-rabbitmq', 'plane-redis'],
    );
    assert.deepEqual(
      statefulSets(external)
        .map((s) => s.metadata.name)
        .sort(),
      ['plane-object-store', 'plane-rabbitmq'],
    );
  });

  for (const [variant, all] of [
    ['Javisi site', manifests],
    ['external PostgreSQL/Redis', external],
  ] as const) {
    it(`name a headless Service of their namespace that governs their pods (${variant})`, () => {
      for (const set of statefulSets(all)) {
        const { name, namespace } = set.metadata;
        const governing = services(all).find((s) => s.metadata.name === set.spec.serviceName && s.metadata.namespace === namespace);
        assert.ok(governing, `StatefulSet ${name}: serviceName ${set.spec.serviceName} is no Service in ${namespace}`);
        assert.ok(isHeadless(governing), `StatefulSet ${name}: Service ${governing.metadata.name} is not headless (clusterIP: None)`);
        // Absent means false (written out, a re-apply would report the Service "configured").
        assert.equal(governing.spec.publishNotReadyAddresses, undefined, `${governing.metadata.name}: publishNotReadyAddresses`);
        assert.ok(selects(governing, set.spec.template), `${governing.metadata.name} does not select the pods of ${name}`);
        assert.deepEqual(governing.metadata.labels, set.metadata.labels, `${governing.metadata.name} labels`);
      }
    });
  }

  it('keep the ClusterIP Service their clients use, on the same port, and clients never name the headless one', () => {
    const headless = services(manifests).filter(isHeadless);
    assert.equal(headless.length, statefulSets(manifests).length, 'one headless Service per StatefulSet, none else');
    for (const set of statefulSets(manifests)) {
      const client = services(manifests).find((s) => s.metadata.name === set.metadata.name);
      const governing = headless.find((s) => s.metadata.name === set.spec.serviceName);
      assert.ok(client && !isHeadless(client) && client.spec.type === 'ClusterIP', `${set.metadata.name}: no ClusterIP Service`);
      assert.deepEqual(governing?.spec.ports, client.spec.ports, `${set.metadata.name}: headless ports differ`);
    }
    // Clients get host names from ConfigMaps, env values and the Caddyfile: none may be a headless one.
    const mentions = JSON.stringify(manifests.filter((m) => m.kind !== 'Service' && m.kind !== 'StatefulSet'));
    for (const service of headless)
      assert.doesNotMatch(mentions, new RegExp(`\\b${service.metadata.name}\\b`), `${service.metadata.name} is given to a client`);
  });
});
