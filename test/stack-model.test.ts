/**
 * The stack model against what the synth renders and against the hand-written network matrix: the
 * model is what the policies and the CLI read, so it must not drift from either.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'cdk8s';
import { buildStack } from '../main';
import { NetworkPolicyChart } from '../charts/network-policy-chart';
import { ALL_PODS, CLUSTER_DNS, expandMatrix, loadExpectedMatrix } from '../lib/network/expected-matrix';
import { Flow, isPodPeer, Peer } from '../lib/network/peers';
import { flowsOf } from '../lib/stack/stack-model';
import { readsSecret } from '../lib/stack/workload';
import { containersOf, Manifest, podTemplates, siteWith } from './helpers';

const site = siteWith();
const model = buildStack(new App({ outdir: 'unused' }), site);
const manifests = model.charts.flatMap((c) => c.toJson()) as Manifest[];

/** A flow as the matrix writes it: components by app.kubernetes.io/name, ranges by name. */
const endName = (peer: Peer) => (isPodPeer(peer) ? peer.podSelector['app.kubernetes.io/name'] : peer.name);
const asLines = (flows: readonly Flow[]) =>
  new Set(flows.flatMap((f) => f.ports.map((p) => `${endName(f.from)} -> ${endName(f.to)} : ${p.protocol ?? 'TCP'} ${p.port}`)));

describe('the stack model', () => {
  it('has exactly the workloads the manifests run, with their images and replicas', () => {
    const rendered = podTemplates(manifests).map((t) => ({
      kind: t.kind,
      name: t.name,
      replicas: t.kind === 'Deployment' || t.kind === 'StatefulSet' ? (t.workload.spec.replicas ?? 1) : 1,
      images: Object.fromEntries(containersOf(t.template).map((c) => [c.name, c.image])),
    }));
    const modelled = model.workloads.map((w) => ({ kind: w.kind, name: w.name, replicas: w.replicas, images: w.images }));
    const key = (w: { kind: string; name: string }) => `${w.kind}/${w.name}`;
    assert.deepEqual(
      [...modelled].sort((a, b) => key(a).localeCompare(key(b))),
      [...rendered].sort((a, b) => key(a).localeCompare(key(b))),
    );
  });

  it("knows every Service that selects a workload's pods, as that workload's endpoint (the CLI forwards to them)", () => {
    const services = manifests.filter((m) => m.kind === 'Service' && m.spec.selector && m.spec.clusterIP !== 'None');
    assert.ok(services.length >= 10);
    for (const service of services) {
      const host = `${service.metadata.name}.${service.metadata.namespace}.svc`;
      const owner = model.workloads.find((w) => w.endpoint?.host === host);
      assert.ok(owner, `Service ${service.metadata.name} is no workload's endpoint`);
      assert.ok(
        service.spec.ports.some((p: Manifest) => p.port === owner.endpoint?.port),
        `${service.metadata.name}: port ${owner.endpoint?.port}`,
      );
      assert.deepEqual(service.spec.selector, owner.peer.podSelector);
    }
  });

  it('knows every Secret key each workload reads, as its pod templates read it', () => {
    for (const { kind, name, template } of podTemplates(manifests)) {
      const workload = model.workloads.find((w) => w.kind === kind && w.name === name);
      assert.ok(workload, `${kind}/${name} is in the model`);
      const refs = containersOf(template).flatMap((c) =>
        (c.env ?? []).flatMap((e: Manifest) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])),
      );
      const volumes = (template.spec.volumes ?? []).flatMap((v: Manifest) => (v.secret ? [v.secret.secretName] : []));
      for (const ref of refs) assert.ok(readsSecret(workload, ref.name, ref.key), `${name} reads ${ref.name}/${ref.key}`);
      for (const secret of volumes)
        assert.ok(
          workload.secretsRead.some((r) => r.secretName === secret && r.key === undefined),
          `${name} mounts ${secret}`,
        );
      const rendered = new Set([...refs.map((r: Manifest) => `${r.name}/${r.key}`), ...volumes.map((s: string) => `${s}/*`)]);
      for (const read of workload.secretsRead)
        assert.ok(
          rendered.has(`${read.secretName}/${read.key ?? '*'}`),
          `${name}: the model says it reads ${read.secretName}/${read.key ?? '*'}, its pods do not`,
        );
    }
  });

  it('declares every flow of the hand-written matrix (network/expected-connections.yaml), and no other', () => {
    const matrix = loadExpectedMatrix();
    // DNS (all-pods -> cluster-dns) is the namespaces' baseline, not a component's flow.
    const rows = {
      ...matrix,
      connections: matrix.connections.filter((c) => ![c.from, c.to].some((end) => end === ALL_PODS || end === CLUSTER_DNS)),
    };
    const expected = expandMatrix(rows, []);
    const declared = asLines(model.flows);
    assert.deepEqual([...declared].filter((l) => !expected.has(l)).sort(), [], 'declared by the stack, missing from the matrix');
    assert.deepEqual([...expected].filter((l) => !declared.has(l)).sort(), [], 'in the matrix, declared by no workload');
  });

  it('refuses a flow to pods that no workload runs', () => {
    const api = model.workloads.find((w) => w.component === 'api');
    assert.ok(api);
    const stray = {
      ...api,
      calls: [
        { to: { name: 'plane-ghost', namespace: 'plane', podSelector: { 'app.kubernetes.io/name': 'ghost' } }, ports: [{ port: 1 }] },
      ],
    };
    assert.throws(
      () => flowsOf([...model.workloads.filter((w) => w !== api), stray]),
      /a flow names pods plane\/plane-ghost that no workload of the stack runs/,
    );
  });

  it('gives every workload its policy, and refuses a workload with no flow', () => {
    const policies = manifests.filter((m) => m.kind === 'NetworkPolicy').map((m) => `${m.metadata.namespace}/${m.metadata.name}`);
    for (const w of model.workloads)
      assert.ok(policies.includes(`${w.namespace}/${w.peer.name}`), `${w.kind}/${w.name} has policy ${w.peer.name}`);
    // Web only accepts the edge's calls: without the edge no flow is left at it, and the policy chart says so.
    const withoutEdge = model.workloads.filter((w) => w.component !== 'caddy');
    assert.throws(
      () => new NetworkPolicyChart(new App({ outdir: 'unused' }), 'p', { site, workloads: withoutEdge }),
      /no flow starts or ends at plane-web/,
    );
  });
});
