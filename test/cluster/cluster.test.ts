/**
 * The scenarios a user lives, against a real API server (PodSecurity admission on, the real scheduler
 * and controllers, kwok for the node's kubelet): apply, idempotent re-apply, a config change, an
 * upgrade and its rollback, delete and re-apply keeping the data. Run by `npm run test:cluster`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { synthesize } from '../../lib/synth';
import { buildStack } from '../../main';
import { Manifest, REPO_ROOT, siteWith } from '../helpers';
import { writeKubeconformSchemas } from './openapi-schemas';
import { scratchDir, TestCluster } from './harness';

const DIST = path.join(REPO_ROOT, 'dist');
const NAMESPACE = 'plane';
const KUBECONFORM = path.join(process.env.PLANE_K3S_CACHE ?? path.join(os.homedir(), '.cache', 'plane-k3s'), 'go-tools', 'bin', 'kubeconform-v0.7.0');

/** The README's secret commands, with throw-away values. */
const SECRETS: Record<string, Record<string, string>> = {
  'plane-app': { 'secret-key': 'k', 'live-server-secret-key': 'k' },
  'plane-postgres': { password: 'p' },
  'plane-redis': { password: 'p' },
  'plane-rabbitmq': { password: 'p' },
  'plane-object-store': { 'access-key-id': 'GKtest0000', 'secret-access-key': 's', 'rpc-secret': 'r' },
};

/** Synthesizes a variant of the Javisi site into a scratch folder. */
function synthVariant(change: (site: Manifest) => void): string {
  const outdir = path.join(scratchDir('plane-variant-'), 'dist');
  synthesize(buildStack, { site: siteWith(change), outdir });
  return outdir;
}

function manifestsIn(dir: string): Manifest[] {
  return fs.readdirSync(dir).flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()));
}

describe('on a real control plane', { concurrency: 1 }, () => {
  let cluster: TestCluster;

  before(() => {
    cluster = TestCluster.start();
  });

  after(() => {
    cluster?.stop();
  });

  it('validates dist/ with kubeconform -strict against schemas from this API server\'s OpenAPI', () => {
    assert.ok(fs.existsSync(KUBECONFORM), `${KUBECONFORM} is missing: run tools/go-tools/install.sh`);
    const openapi = JSON.parse(cluster.kubectlOk(['get', '--raw', '/openapi/v2']).stdout);
    const schemas = scratchDir('plane-schemas-');
    const kinds = new Set(manifestsIn(DIST).map((m) => m.kind as string));
    assert.ok(writeKubeconformSchemas(openapi, schemas, kinds) >= kinds.size);
    const kubeconform = (dir: string) => spawnSync(KUBECONFORM, [
      '-strict', '-summary',
      '-schema-location', path.join(schemas, '{{ .ResourceKind }}_{{ .Group }}_{{ .ResourceAPIVersion }}.json'),
      dir,
    ], { encoding: 'utf8' });

    const result = kubeconform(DIST);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /Valid: \d+, Invalid: 0, Errors: 0, Skipped: 0/, result.stdout);

    // The same schemas must catch a typo, or the gate proves nothing.
    const broken = scratchDir('plane-broken-');
    fs.writeFileSync(path.join(broken, 'bad.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec:\n  replica: 1\n  selector: { matchLabels: { a: b } }\n  template: { metadata: { labels: { a: b } }, spec: { containers: [{ name: x, image: "x:1.0" }] } }\n');
    const typo = kubeconform(broken);
    assert.notEqual(typo.status, 0);
    assert.match(typo.stdout, /additional properties 'replica' not allowed/);
    fs.rmSync(schemas, { recursive: true, force: true });
    fs.rmSync(broken, { recursive: true, force: true });
  });

  it('deploys as the README says: namespace, secrets, `kubectl apply -f dist`, with no PodSecurity warning', async () => {
    const namespaceApply = cluster.kubectlOk(['apply', '-f', path.join(DIST, '0000-namespace.k8s.yaml')]);
    assert.doesNotMatch(namespaceApply.stderr, /warning/i);
    for (const [name, keys] of Object.entries(SECRETS)) {
      cluster.kubectlOk(['create', 'secret', 'generic', name, '-n', NAMESPACE, ...Object.entries(keys).map(([k, v]) => `--from-literal=${k}=${v}`)]);
    }
    const apply = cluster.kubectlOk(['apply', '-f', DIST]);
    assert.doesNotMatch(apply.stderr, /warning|PodSecurity|violate/i, apply.stderr);
    await cluster.waitUntilSettled(NAMESPACE);

    // Every pod was admitted under the restricted profile (enforce rejects violating pods outright).
    const pods = (await cluster.core.listNamespacedPod({ namespace: NAMESPACE })).items;
    assert.ok(pods.length >= 12, `only ${pods.length} pods`);
    const claims = (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items;
    assert.deepEqual(claims.map((c) => `${c.metadata?.name}:${c.status?.phase}`).sort(), [
      'data-plane-object-store-0:Bound', 'data-plane-postgres-0:Bound', 'data-plane-rabbitmq-0:Bound', 'data-plane-redis-0:Bound',
    ]);
  });

  it('never overwrites a secret that exists', () => {
    const again = cluster.kubectl(['create', 'secret', 'generic', 'plane-postgres', '-n', NAMESPACE, '--from-literal=password=other']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already exists/);
    const stored = cluster.kubectlOk(['get', 'secret', 'plane-postgres', '-n', NAMESPACE, '-o', 'jsonpath={.data.password}']).stdout;
    assert.equal(Buffer.from(stored, 'base64').toString(), 'p');
  });

  it('re-applies with every object unchanged, and `kubectl diff` finds nothing', () => {
    const apply = cluster.kubectlOk(['apply', '-f', DIST]);
    const lines = apply.stdout.trim().split('\n');
    assert.deepEqual(lines.filter((l) => !/ unchanged$/.test(l)), [], 'objects changed on a second apply');
    assert.equal(lines.length, manifestsIn(DIST).length);
    const diff = cluster.kubectl(['diff', '-f', DIST]);
    assert.equal(diff.code, 0, `kubectl diff found changes:\n${diff.stdout}${diff.stderr}`);
  });

  it('rolls exactly the Deployments that consume a changed value (api-only: gunicorn workers)', async () => {
    const before = await cluster.deploymentRevisions(NAMESPACE);
    const changed = synthVariant((s) => { s.components.api.gunicornWorkers = 3; });
    cluster.kubectlOk(['apply', '-f', changed]);
    await cluster.waitUntilSettled(NAMESPACE);
    const after = await cluster.deploymentRevisions(NAMESPACE);
    const rolled = [...after].filter(([name, revision]) => before.get(name) !== revision).map(([name]) => name);
    assert.deepEqual(rolled, ['plane-api']);
    // Back to the committed configuration.
    cluster.kubectlOk(['apply', '-f', DIST]);
    await cluster.waitUntilSettled(NAMESPACE);
  });

  it('upgrades Plane without an immutable-field error, runs the new migrator, and `rollout undo` restores the api', async () => {
    const upgraded = synthVariant((s) => { s.images.plane.tag = 'v1.2.3'; });
    const apply = cluster.kubectl(['apply', '-f', upgraded]);
    assert.equal(apply.code, 0, apply.stderr);
    assert.doesNotMatch(apply.stderr, /immutable|invalid/i);
    await cluster.waitUntilSettled(NAMESPACE);

    const jobs = (await cluster.batch.listNamespacedJob({ namespace: NAMESPACE })).items.map((j) => j.metadata?.name ?? '');
    assert.ok(jobs.some((name) => name.startsWith('plane-migrator-v1-2-3-')), `no migrator Job for v1.2.3 in ${jobs}`);
    const image = async (name: string) => (await cluster.apps.readNamespacedDeployment({ name, namespace: NAMESPACE })).spec?.template.spec?.containers[0].image;
    for (const name of ['plane-web', 'plane-space', 'plane-admin', 'plane-live', 'plane-api', 'plane-worker', 'plane-beat-worker']) {
      assert.match(await image(name) ?? '', /:v1\.2\.3$/, name);
    }

    cluster.kubectlOk(['rollout', 'undo', 'deployment/plane-api', '-n', NAMESPACE]);
    cluster.kubectlOk(['rollout', 'status', 'deployment/plane-api', '-n', NAMESPACE, '--timeout=120s']);
    assert.match(await image('plane-api') ?? '', /:v1\.2\.2$/);

    cluster.kubectlOk(['apply', '-f', DIST]);
    await cluster.waitUntilSettled(NAMESPACE);
  });

  it('keeps the data volumes through `kubectl delete -f dist` and a re-apply', async () => {
    const claimIds = async () => new Map((await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items
      .map((c) => [c.metadata?.name, `${c.metadata?.uid}/${c.spec?.volumeName}`]));
    const before = await claimIds();
    assert.equal(before.size, 4);

    const deletion = cluster.kubectl(['delete', '-f', DIST, '--wait=true', '--timeout=120s']);
    // The namespace guard refuses the one deletion that would take the volumes along.
    assert.match(deletion.stderr, /plane-keep-namespace/);
    assert.equal((await cluster.apps.listNamespacedStatefulSet({ namespace: NAMESPACE })).items.length, 0, 'StatefulSets deleted');
    assert.deepEqual(await claimIds(), before, 'claims survive the deletion');
    // The edge namespace holds no data and goes; a re-apply must wait until it is gone.
    await cluster.waitUntilGone('namespace', 'plane-edge');

    cluster.kubectlOk(['apply', '-f', DIST]);
    await cluster.waitUntilSettled(NAMESPACE);
    assert.deepEqual(await claimIds(), before, 'the re-applied StatefulSets use the same claims and volumes');
  });
});
