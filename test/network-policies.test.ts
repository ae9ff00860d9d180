import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadExpectedMatrix } from '../lib/network/expected-matrix';
import { withDiagram } from '../lib/network/network-doc';
import { Manifest, podTemplates, REPO_ROOT, siteWith, synth, useExternal } from './helpers';

const manifests = synth();
const policies = manifests.filter((m) => m.kind === 'NetworkPolicy');

function selects(policy: Manifest, labels: Record<string, string>): boolean {
  return Object.entries(policy.spec.podSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function componentPolicies(namespace: string, labels: Record<string, string>): Manifest[] {
  return policies.filter((p) => p.metadata.namespace === namespace && Object.keys(p.spec.podSelector).length > 0 && selects(p, labels));
}

describe('network policies', () => {
  const namespaces = [...new Set(podTemplates(manifests).map((t) => t.workload.metadata.namespace))];

  for (const namespace of namespaces) {
    it(`${namespace}: denies all ingress and egress by default, then allows DNS to the cluster DNS only`, () => {
      const deny = policies.find((p) => p.metadata.namespace === namespace && p.metadata.name === 'default-deny');
      assert.deepEqual(deny?.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      const dns = policies.find((p) => p.metadata.namespace === namespace && p.metadata.name === 'allow-dns');
      assert.deepEqual(dns?.spec.policyTypes, ['Egress']);
      assert.equal(dns.spec.egress.length, 1);
      const [rule] = dns.spec.egress;
      assert.deepEqual(rule.to, [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ]);
      assert.deepEqual(rule.ports.map((p: Manifest) => `${p.protocol} ${p.port}`).sort(), ['TCP 53', 'UDP 53']);
    });
  }

  for (const { kind, name, workload, template } of podTemplates(manifests)) {
    it(`${kind} ${name} is selected by exactly one component policy, named after it`, () => {
      const matching = componentPolicies(workload.metadata.namespace, template.metadata.labels);
      assert.equal(matching.length, 1, `${matching.length} policies select ${name}`);
      assert.match(name, new RegExp(`^${matching[0].metadata.name}`));
      assert.deepEqual(matching[0].spec.policyTypes, ['Ingress', 'Egress']);
    });
  }

  it('lets no address range in but the VPN, to the edge; in the cluster, only the api reaches the edge, on HTTPS', () => {
    for (const policy of policies) {
      for (const rule of policy.spec.ingress ?? []) {
        for (const peer of rule.from ?? []) {
          if (peer.ipBlock)
            assert.ok(
              ['100.64.0.0/10', 'fd7a:115c:a1e0::/48'].includes(peer.ipBlock.cidr),
              `${policy.metadata.name} admits ${peer.ipBlock.cidr}`,
            );
        }
      }
    }
    const caddy = policies.find((p) => p.metadata.name === 'plane-caddy') as Manifest;
    const podRules = caddy.spec.ingress.filter((rule: Manifest) => rule.from.some((peer: Manifest) => peer.podSelector));
    assert.deepEqual(
      podRules.map((rule: Manifest) => [
        rule.from.map((peer: Manifest) => peer.podSelector.matchLabels['app.kubernetes.io/name']),
        rule.ports.map((p: Manifest) => p.port),
      ]),
      [[['api'], [8443]]],
    );
    assert.deepEqual(podRules[0].from[0].namespaceSelector, { matchLabels: { 'kubernetes.io/metadata.name': 'plane' } });
  });

  it("lets the secrets bootstrap and the keep-data guard reach the API server on the node's addresses only, on its port", () => {
    for (const name of ['plane-secrets', 'plane-keep-data']) {
      const policy = policies.find((p) => p.metadata.name === name) as Manifest;
      assert.deepEqual(
        policy.spec.egress,
        [{ to: [{ ipBlock: { cidr: '137.74.114.167/32' } }], ports: [{ port: 6443, protocol: 'TCP' }] }],
        name,
      );
      assert.equal(policy.spec.ingress, undefined, `nothing connects to ${name}`);
    }
  });

  it('gives the worker alone internet egress (with in-cluster data services), on its ports, never to private ranges, the VPN, metadata or the node', () => {
    const withAddressEgress = policies.filter(
      (p) =>
        !['plane-secrets', 'plane-keep-data'].includes(p.metadata.name) &&
        (p.spec.egress ?? []).some((r: Manifest) => r.to?.some((peer: Manifest) => peer.ipBlock)),
    );
    assert.deepEqual(
      withAddressEgress.map((p) => p.metadata.name),
      ['plane-worker'],
    );
    const rule = withAddressEgress[0].spec.egress.find((r: Manifest) => r.to.some((peer: Manifest) => peer.ipBlock));
    assert.equal(rule.to.length, 1);
    const block = rule.to[0].ipBlock;
    assert.equal(block.cidr, '0.0.0.0/0');
    for (const denied of [
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '100.64.0.0/10',
      '169.254.0.0/16',
      '127.0.0.0/8',
      '137.74.114.167/32',
    ]) {
      assert.ok(block.except.includes(denied), `worker egress does not exclude ${denied}`);
    }
    assert.deepEqual(
      rule.ports.map((p: Manifest) => p.port).sort((a: number, b: number) => a - b),
      [25, 80, 443, 465, 587],
    );
  });

  it('follows the site: another node address is excluded from the worker egress', () => {
    const changed = synth(
      siteWith((s) => {
        s.vps.addresses.push('51.38.1.2');
      }),
    );
    const worker = changed.find((m) => m.kind === 'NetworkPolicy' && m.metadata.name === 'plane-worker');
    const block = worker?.spec.egress.flatMap((r: Manifest) => r.to).find((peer: Manifest) => peer.ipBlock)?.ipBlock;
    assert.ok(block.except.includes('51.38.1.2/32'));
  });

  it('lets data services in only from the components that use them', () => {
    const allowedFrom = (policyName: string) =>
      policies
        .find((p) => p.metadata.name === policyName)
        ?.spec.ingress.flatMap((r: Manifest) => r.from.map((peer: Manifest) => peer.podSelector?.matchLabels['app.kubernetes.io/name']))
        .sort();
    assert.deepEqual(allowedFrom('plane-postgres'), ['api', 'backup', 'beat-worker', 'migrator', 'provisioning', 'restore', 'worker']);
    assert.deepEqual(allowedFrom('plane-rabbitmq'), ['api', 'beat-worker', 'migrator', 'provisioning', 'worker']);
    assert.deepEqual(allowedFrom('plane-redis'), ['api', 'beat-worker', 'live', 'migrator', 'provisioning', 'worker']);
    assert.deepEqual(allowedFrom('plane-object-store'), ['api', 'backup', 'caddy', 'restore', 'worker']);
  });

  it('isolates the restore drill and the upgrade rehearsal: their scratch server is in their own pod, they reach nothing and nothing reaches them', () => {
    for (const [name, component] of [
      ['plane-backup-drill', 'drill'],
      ['plane-backup-rehearsal', 'rehearsal'],
    ]) {
      const policy = policies.find((p) => p.metadata.name === name) as Manifest;
      assert.deepEqual(policy.spec.podSelector.matchLabels['app.kubernetes.io/name'], component);
      assert.deepEqual(
        [policy.spec.policyTypes, policy.spec.ingress, policy.spec.egress],
        [['Ingress', 'Egress'], undefined, undefined],
        name,
      );
    }
  });

  it('gives web and admin no egress but DNS', () => {
    for (const name of ['plane-web', 'plane-admin']) {
      const policy = policies.find((p) => p.metadata.name === name) as Manifest;
      // Egress in policyTypes with no egress rule: nothing is allowed out but what allow-dns adds.
      assert.ok(policy.spec.policyTypes.includes('Egress'), name);
      assert.equal(policy.spec.egress, undefined, name);
    }
  });

  it('with a shared PostgreSQL and Redis: no StatefulSet, a Service on an EndpointSlice, egress to that address and port only', () => {
    const external = synth(
      siteWith((s) => {
        useExternal(s, 'postgres', { address: '137.74.114.167', port: 5433 });
        useExternal(s, 'redis', { address: '137.74.114.167', port: 6380 });
      }),
    );
    assert.deepEqual(
      external
        .filter((m) => m.kind === 'StatefulSet')
        .map((m) => m.metadata.name)
        .sort(),
      ['plane-object-store', 'plane-rabbitmq'],
    );
    for (const [name, port] of [
      ['plane-postgres', 5433],
      ['plane-redis', 6380],
    ] as const) {
      const service = external.find((m) => m.kind === 'Service' && m.metadata.name === name);
      assert.equal(service?.spec.selector, undefined, `${name} Service must not select pods`);
      const slice = external.find((m) => m.kind === 'EndpointSlice' && m.metadata.labels['kubernetes.io/service-name'] === name);
      assert.deepEqual(slice?.endpoints, [{ addresses: ['137.74.114.167'], conditions: { ready: true } }]);
      assert.equal(slice.ports[0].port, port);
    }
    const api = external.find((m) => m.kind === 'NetworkPolicy' && m.metadata.name === 'plane-api');
    const toAddress = api?.spec.egress.filter((r: Manifest) => r.to.some((peer: Manifest) => peer.ipBlock));
    assert.deepEqual(
      toAddress.map((r: Manifest) => [r.to[0].ipBlock, r.ports[0].port]),
      [
        [{ cidr: '137.74.114.167/32' }, 5433],
        [{ cidr: '137.74.114.167/32' }, 6380],
      ],
    );
    const apiEnv = external.find((m) => m.kind === 'Deployment' && m.metadata.name === 'plane-api')?.spec.template.spec.containers[0].env;
    assert.match(apiEnv.find((e: Manifest) => e.name === 'DATABASE_URL').value, /@plane-postgres\.plane\.svc:5433\/plane$/);
  });

  it('draws docs/network.md from the current matrix (`npm run docs:network`)', () => {
    const file = path.join(REPO_ROOT, 'docs', 'network.md');
    const document = fs.readFileSync(file, 'utf8');
    assert.equal(document, withDiagram(document, loadExpectedMatrix()), 'docs/network.md is stale: run `npm run docs:network`');
  });
});
