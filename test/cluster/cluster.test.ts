/**
 * The scenarios a user lives, against a real API server (PodSecurity admission on, the real scheduler
 * and controllers, kwok for the node's kubelet): apply, idempotent re-apply, a config change, an
 * upgrade and its rollback, delete and re-apply keeping the data. Run by `npm run test:cluster`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { appHost } from '../../lib/site';
import { synthesize } from '../../lib/synth';
import { buildStack } from '../../main';
import { Manifest, REPO_ROOT, siteWith } from '../helpers';
import { secretCommands, secretsShellBlock } from '../readme';
import { writeKubeconformSchemas } from './openapi-schemas';
import { CommandResult, scratchDir, TestCluster } from './harness';

const DIST = path.join(REPO_ROOT, 'dist');
const NAMESPACE = 'plane';
const KUBECONFORM = path.join(process.env.PLANE_K3S_CACHE ?? path.join(os.homedir(), '.cache', 'plane-k3s'), 'go-tools', 'bin', 'kubeconform-v0.7.0');

/** The README's deploy (the sh block of "## Secrets"), run as written; test/readme.test.ts checks what it creates. */
const DEPLOY = secretsShellBlock();
const DEPLOY_SECRETS = secretCommands(DEPLOY.text, DEPLOY.line);

/**
 * A scratch directory to run the deploy block in, as an operator would from a checkout: dist/, and the
 * files its commands read. For a TLS Secret that is a throw-away self-signed pair for the app host.
 */
function deployDirectory(): string {
  const dir = scratchDir('plane-deploy-');
  fs.cpSync(DIST, path.join(dir, 'dist'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'deploy.sh'), `${DEPLOY.text}\n`);
  const host = appHost(siteWith());
  for (const secret of DEPLOY_SECRETS) {
    if (secret.type !== 'tls') {
      assert.deepEqual(secret.files, [], `README.md:${secret.line}: no test content for the files of ${secret.name}`);
      continue;
    }
    const [cert, key] = secret.files.map((f) => path.join(dir, f));
    const openssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', '1', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', key, '-out', cert], { encoding: 'utf8' });
    assert.equal(openssl.status, 0, openssl.stderr);
  }
  return dir;
}

/**
 * Runs the deploy block with bash in `dir`, against the test cluster: its kubectl first on PATH. Never
 * traced (-x would print the generated secret values).
 */
function runDeploy(cluster: TestCluster, dir: string, bashOptions: string[]): CommandResult {
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfig, PATH: `${path.dirname(cluster.kubectlPath)}${path.delimiter}${process.env.PATH}` };
  const kubectl = spawnSync('bash', ['-c', 'command -v kubectl'], { cwd: dir, env, encoding: 'utf8' }).stdout.trim();
  assert.equal(kubectl, cluster.kubectlPath, 'the block would run another kubectl');
  const result = spawnSync('bash', [...bashOptions, 'deploy.sh'], { cwd: dir, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A digest of each README Secret's data as stored: compared, never printed. */
async function secretDigests(cluster: TestCluster): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (const { namespace, name, keys } of DEPLOY_SECRETS) {
    const data = (await cluster.core.readNamespacedSecret({ name, namespace })).data ?? {};
    assert.deepEqual(Object.keys(data).sort(), keys, `Secret ${namespace}/${name} keys`);
    assert.ok(Object.values(data).every((v) => v.length > 0), `Secret ${namespace}/${name} has an empty value`);
    digests.set(`${namespace}/${name}`, createHash('sha256').update(JSON.stringify(Object.entries(data).sort())).digest('hex'));
  }
  return digests;
}

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
  let deployDir: string | undefined;

  before(() => {
    cluster = TestCluster.start();
  });

  after(() => {
    cluster?.stop();
    if (deployDir) fs.rmSync(deployDir, { recursive: true, force: true });
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

  it('deploys with the README\'s own block (namespaces, secrets, `kubectl apply -f dist`), with no PodSecurity warning', async () => {
    deployDir = deployDirectory();
    const deploy = runDeploy(cluster, deployDir, ['-euo', 'pipefail']);
    assert.equal(deploy.code, 0, `README.md:${DEPLOY.line}: the deploy block failed:\n${deploy.stderr}`);
    assert.doesNotMatch(deploy.stderr, /warning|PodSecurity|violate/i, deploy.stderr);
    for (const { name } of DEPLOY_SECRETS) assert.match(deploy.stdout, new RegExp(`^secret/${name} created$`, 'm'));
    for (const namespace of new Set([NAMESPACE, ...DEPLOY_SECRETS.map((s) => s.namespace)])) await cluster.waitUntilSettled(namespace);

    // Every pod was admitted under the restricted profile (enforce rejects violating pods outright).
    const pods = (await cluster.core.listNamespacedPod({ namespace: NAMESPACE })).items;
    assert.ok(pods.length >= 12, `only ${pods.length} pods`);
    const claims = (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items;
    assert.deepEqual(claims.map((c) => `${c.metadata?.name}:${c.status?.phase}`).sort(), [
      'data-plane-object-store-0:Bound', 'data-plane-postgres-0:Bound', 'data-plane-rabbitmq-0:Bound', 'data-plane-redis-0:Bound',
      // local-path binds on first use: the backup volume waits for the first backup.
      'plane-backup:Pending',
    ]);
  });

  it('never overwrites a secret that exists: the same block run again leaves every value as it was', async () => {
    assert.ok(deployDir, 'the deploy test ran first');
    const before = await secretDigests(cluster);
    // Without -e, as an operator pasting the block again: every create is attempted (with new values).
    const again = runDeploy(cluster, deployDir, []);
    const refused = again.stderr.match(/already exists/g) ?? [];
    assert.equal(refused.length, DEPLOY_SECRETS.length, again.stderr);
    const after = await secretDigests(cluster);
    for (const id of before.keys()) assert.ok(before.get(id) === after.get(id), `Secret ${id} was overwritten`);
  });

  it('re-applies with every object unchanged, and `kubectl diff` finds nothing', () => {
    const apply = cluster.kubectlOk(['apply', '-f', DIST]);
    const lines = apply.stdout.trim().split('\n');
    assert.deepEqual(lines.filter((l) => !l.endsWith(' unchanged')), [], 'objects changed on a second apply');
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
    assert.equal(before.size, 5, 'the four data volumes and the backup volume');

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
