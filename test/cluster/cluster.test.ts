/**
 * The scenarios a user lives, against a real API server (PodSecurity admission on, the real scheduler
 * and controllers, kwok for the node's kubelet): apply, idempotent re-apply, a config change, an
 * upgrade and its rollback; keeping the data through every delete, deleting it on purpose, re-attaching
 * kept volumes and moving an install off local-path, as README and docs/runbook.md say. Run by
 * `npm run test:cluster`.
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
import { compareTags, SUPPORTED_PLANE_TAGS } from '../../lib/config/plane-releases';
import { Manifest, REPO_ROOT, siteWith } from '../helpers';
import { DOC_COMMANDS, secretCommands } from '../readme';
import { writeKubeconformSchemas } from './openapi-schemas';
import { CommandResult, runKeepDataJob, scratchDir, TestCluster } from './harness';

const DIST = path.join(REPO_ROOT, 'dist');
const NAMESPACE = 'plane';
/** The deletion guard's policy, binding, ServiceAccount and ConfigMap base name. */
const GUARD = 'plane-keep-data';
/** The last commit whose dist/ put the claims on k3s' local-path (the storage migration starts there). */
const PREVIOUS_DIST_COMMIT = 'b7246563339ddf04d256a1c2dc444d4b0ce793bf';
const KUBECONFORM = path.join(
  process.env.PLANE_K3S_CACHE ?? path.join(os.homedir(), '.cache', 'plane-k3s'),
  'go-tools',
  'bin',
  'kubeconform-v0.7.0',
);

/** The README's deploy (the block of "First deploy" that makes the certificate's Secret), run as written; test/readme.test.ts checks what it creates. */
const DEPLOY = DOC_COMMANDS.deploy();
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
    const openssl = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${host}`,
        '-addext',
        `subjectAltName=DNS:${host}`,
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(openssl.status, 0, openssl.stderr);
  }
  return dir;
}

/**
 * Runs the deploy block with bash in `dir`, against the test cluster: its kubectl first on PATH. Never
 * traced (-x would print the generated secret values).
 */
function runDeploy(cluster: TestCluster, dir: string, bashOptions: string[]): CommandResult {
  const env = {
    ...process.env,
    KUBECONFIG: cluster.kubeconfig,
    PATH: `${path.dirname(cluster.kubectlPath)}${path.delimiter}${process.env.PATH}`,
  };
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
    assert.ok(
      Object.values(data).every((v) => v.length > 0),
      `Secret ${namespace}/${name} has an empty value`,
    );
    digests.set(
      `${namespace}/${name}`,
      createHash('sha256')
        .update(JSON.stringify(Object.entries(data).sort()))
        .digest('hex'),
    );
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

  it("validates dist/ with kubeconform -strict against schemas from this API server's OpenAPI", () => {
    assert.ok(fs.existsSync(KUBECONFORM), `${KUBECONFORM} is missing: run tools/go-tools/install.sh`);
    const openapi = JSON.parse(cluster.kubectlOk(['get', '--raw', '/openapi/v2']).stdout);
    const schemas = scratchDir('plane-schemas-');
    const kinds = new Set(manifestsIn(DIST).map((m) => m.kind as string));
    assert.ok(writeKubeconformSchemas(openapi, schemas, kinds) >= kinds.size);
    const kubeconform = (dir: string) =>
      spawnSync(
        KUBECONFORM,
        [
          '-strict',
          '-summary',
          '-schema-location',
          path.join(schemas, '{{ .ResourceKind }}_{{ .Group }}_{{ .ResourceAPIVersion }}.json'),
          dir,
        ],
        { encoding: 'utf8' },
      );

    const result = kubeconform(DIST);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /Valid: \d+, Invalid: 0, Errors: 0, Skipped: 0/, result.stdout);

    // The same schemas must catch a typo, or the gate proves nothing.
    const broken = scratchDir('plane-broken-');
    fs.writeFileSync(
      path.join(broken, 'bad.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec:\n  replica: 1\n  selector: { matchLabels: { a: b } }\n  template: { metadata: { labels: { a: b } }, spec: { containers: [{ name: x, image: "x:1.0" }] } }\n',
    );
    const typo = kubeconform(broken);
    assert.notEqual(typo.status, 0);
    assert.match(typo.stdout, /additional properties 'replica' not allowed/);
    fs.rmSync(schemas, { recursive: true, force: true });
    fs.rmSync(broken, { recursive: true, force: true });
  });

  it("deploys with the README's own block (namespaces, secrets, `kubectl apply -f dist`), with no PodSecurity warning", async () => {
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
      'data-plane-object-store-0:Bound',
      'data-plane-postgres-0:Bound',
      'data-plane-rabbitmq-0:Bound',
      'data-plane-redis-0:Bound',
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
    assert.deepEqual(
      lines.filter((l) => !l.endsWith(' unchanged')),
      [],
      'objects changed on a second apply',
    );
    assert.equal(lines.length, manifestsIn(DIST).length);
    const diff = cluster.kubectl(['diff', '-f', DIST]);
    assert.equal(diff.code, 0, `kubectl diff found changes:\n${diff.stdout}${diff.stderr}`);
  });

  it('rolls exactly the Deployments that consume a changed value (api-only: gunicorn workers)', async () => {
    const before = await cluster.deploymentRevisions(NAMESPACE);
    const changed = synthVariant((s) => {
      s.components.api.gunicornWorkers = 3;
    });
    cluster.kubectlOk(['apply', '-f', changed]);
    await cluster.waitUntilSettled(NAMESPACE);
    const after = await cluster.deploymentRevisions(NAMESPACE);
    const rolled = [...after].filter(([name, revision]) => before.get(name) !== revision).map(([name]) => name);
    assert.deepEqual(rolled, ['plane-api']);
    // Back to the committed configuration.
    cluster.kubectlOk(['apply', '-f', DIST]);
    await cluster.waitUntilSettled(NAMESPACE);
  });

  it('upgrades to each supported release without an immutable-field error, runs its migrator, keeps claims and Secrets; `rollout undo` and the way back restore', async () => {
    const running = siteWith().images.plane.tag;
    const later = SUPPORTED_PLANE_TAGS.filter((tag) => compareTags(tag, running) > 0);
    assert.ok(later.length > 0, 'a later supported release');
    const image = async (name: string) =>
      (await cluster.apps.readNamespacedDeployment({ name, namespace: NAMESPACE })).spec?.template.spec?.containers[0].image;
    /** The migrator Jobs, by name: kept after completion (VersionedJob), one per release and template. */
    const jobs = async () =>
      new Map(
        (await cluster.batch.listNamespacedJob({ namespace: NAMESPACE })).items
          .filter((j) => j.metadata?.name?.startsWith('plane-migrator-'))
          .map((j) => [j.metadata?.name ?? '', j.metadata?.uid]),
      );
    /** What an upgrade must never touch: the claims (uid and volume) and the Secrets' values. */
    const kept = async () => ({
      claims: (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items
        .map((c) => `${c.metadata?.name} ${c.metadata?.uid} ${c.spec?.volumeName ?? ''}`)
        .sort(),
      secrets: (await cluster.core.listNamespacedSecret({ namespace: NAMESPACE })).items
        .map(
          (x) =>
            `${x.metadata?.name} ${x.metadata?.uid} ${createHash('sha256')
              .update(JSON.stringify(x.data ?? {}))
              .digest('hex')}`,
        )
        .sort(),
    });
    const before = await kept();
    const jobsBefore = await jobs();
    const DEPLOYMENTS = ['plane-web', 'plane-space', 'plane-admin', 'plane-live', 'plane-api', 'plane-worker', 'plane-beat-worker'];
    for (const tag of later) {
      const upgraded = synthVariant((s) => {
        s.images.plane.tag = tag;
      });
      const apply = cluster.kubectl(['apply', '-f', upgraded]);
      assert.equal(apply.code, 0, apply.stderr);
      assert.doesNotMatch(apply.stderr, /immutable|invalid/i);
      await cluster.waitUntilSettled(NAMESPACE);
      const dashed = tag.replace(/\./g, '-');
      const names = [...(await jobs()).keys()];
      assert.ok(
        names.some((name) => name.startsWith(`plane-migrator-${dashed}-`)),
        `no migrator Job for ${tag} in ${names}`,
      );
      for (const name of DEPLOYMENTS) assert.ok((await image(name))?.endsWith(`:${tag}`), `${name} on ${tag}`);
      assert.deepEqual(await kept(), before, `claims and Secrets unchanged by the upgrade to ${tag}`);

      if (tag === later[0]) {
        cluster.kubectlOk(['rollout', 'undo', 'deployment/plane-api', '-n', NAMESPACE]);
        cluster.kubectlOk(['rollout', 'status', 'deployment/plane-api', '-n', NAMESPACE, '--timeout=120s']);
        assert.ok((await image('plane-api'))?.endsWith(`:${running}`));
      }

      // The way back (docs/runbook.md "Rollback, or restore", step 1): the old tag's dist/ again.
      cluster.kubectlOk(['apply', '-f', DIST]);
      await cluster.waitUntilSettled(NAMESPACE);
      for (const name of DEPLOYMENTS) assert.ok((await image(name))?.endsWith(`:${running}`), `${name} back on ${running}`);
      const now = await jobs();
      for (const [name, uid] of jobsBefore)
        assert.equal(now.get(name), uid, `${name}: the old release's migrator is the same Job (not run again)`);
      assert.deepEqual(await kept(), before, `claims and Secrets unchanged by the way back from ${tag}`);
    }
  });

  // ---- keeping the data (docs/runbook.md "Removing Plane: keep the data, or delete it") -------------------------

  /**
   * claim name → "uid/volume"; with a deletionTimestamp, "… terminating". The backup claim binds on
   * first use (WaitForFirstConsumer, a backup run): its volume is left out.
   */
  const claimIds = async () =>
    new Map(
      (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items.map((c) => [
        c.metadata?.name ?? '',
        `${c.metadata?.uid}/${c.metadata?.name === 'plane-backup' ? '' : (c.spec?.volumeName ?? '')}${c.metadata?.deletionTimestamp ? ' terminating' : ''}`,
      ]),
    );
  const FIVE_CLAIMS = ['data-plane-object-store-0', 'data-plane-postgres-0', 'data-plane-rabbitmq-0', 'data-plane-redis-0', 'plane-backup'];
  const namespacePhase = async () => (await cluster.core.readNamespace({ name: NAMESPACE })).status?.phase;
  const guardObjects = () =>
    cluster
      .kubectl(['get', 'validatingadmissionpolicy,validatingadmissionpolicybinding', GUARD, '-o', 'name'])
      .stdout.trim()
      .split('\n')
      .sort();

  /** Runs a docs block with bash -euo pipefail in `cwd` (which holds dist/), this cluster's kubectl first on PATH. */
  const runBlock = (text: string, cwd: string): CommandResult => {
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', text], {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        KUBECONFIG: cluster.kubeconfig,
        PATH: `${path.dirname(cluster.kubectlPath)}${path.delimiter}${process.env.PATH}`,
      },
    });
    if (result.error) throw result.error;
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  };

  const runGuardJob = () => runKeepDataJob(cluster, NAMESPACE, GUARD);

  it("applies the keep-data guard with its Job's script as its ServiceAccount, which may apply those two objects and nothing else", async () => {
    const name = manifestsIn(DIST).find((m) => m.kind === 'Job' && m.metadata.name.startsWith(`${GUARD}-`))?.metadata.name;
    const jobs = (await cluster.batch.listNamespacedJob({ namespace: NAMESPACE })).items.filter((j) => j.metadata?.name === name);
    assert.equal(jobs.length, 1, `Job ${name}`);
    assert.ok(
      jobs[0].status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'),
      'the Job completed',
    );
    assert.deepEqual(guardObjects(), [''], 'the guard is not in dist/');
    const first = runGuardJob();
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `validatingadmissionpolicy ${GUARD}: created\nvalidatingadmissionpolicybinding ${GUARD}: created\n`);
    const again = runGuardJob();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `validatingadmissionpolicy ${GUARD}: applied\nvalidatingadmissionpolicybinding ${GUARD}: applied\n`);
    assert.deepEqual(guardObjects(), [
      `validatingadmissionpolicy.admissionregistration.k8s.io/${GUARD}`,
      `validatingadmissionpolicybinding.admissionregistration.k8s.io/${GUARD}`,
    ]);

    const can = (...args: string[]) =>
      cluster.kubectl(['auth', 'can-i', `--as=system:serviceaccount:${NAMESPACE}:${GUARD}`, ...args]).stdout.trim();
    for (const kind of ['validatingadmissionpolicies', 'validatingadmissionpolicybindings']) {
      assert.equal(can('patch', `${kind}/${GUARD}`), 'yes', kind);
      assert.equal(can('create', `${kind}/${GUARD}`), 'yes', kind);
      for (const denied of [
        ['create', kind],
        ['create', `${kind}/other`],
        ['patch', `${kind}/other`],
        ['get', `${kind}/${GUARD}`],
        ['list', kind],
        ['delete', `${kind}/${GUARD}`],
        ['update', `${kind}/${GUARD}`],
      ]) {
        assert.equal(can(...denied), 'no', denied.join(' '));
      }
    }
    for (const denied of [
      ['delete', 'namespace/plane'],
      ['delete', 'pvc', '-n', NAMESPACE],
      ['get', 'secrets', '-n', NAMESPACE],
      ['create', 'pods', '-n', NAMESPACE],
      ['patch', 'validatingwebhookconfigurations/x'],
    ]) {
      assert.equal(can(...denied), 'no', denied.join(' '));
    }
  });

  it('keeps namespace plane and the five claims through `kubectl delete -f dist` twice, `delete pvc -l`, `--all` and a DeleteCollection; a re-apply uses the same claims', async () => {
    const before = await claimIds();
    assert.deepEqual([...before.keys()].sort(), FIVE_CLAIMS);
    for (const run of [1, 2]) {
      const deletion = cluster.kubectl(['delete', '-f', DIST, '--wait=true', '--timeout=120s']);
      assert.equal(deletion.code, 1, `run ${run}: ${deletion.stderr}`);
      assert.match(deletion.stderr, /namespaces "plane" is forbidden: ValidatingAdmissionPolicy 'plane-keep-data'/, `run ${run}`);
      assert.match(
        deletion.stderr,
        /persistentvolumeclaims "plane-backup" is forbidden: ValidatingAdmissionPolicy 'plane-keep-data'/,
        `run ${run}`,
      );
      assert.match(deletion.stderr, /docs\/runbook\.md, "Deleting the data"/);
      assert.equal(await namespacePhase(), 'Active', `run ${run}`);
      assert.deepEqual(await claimIds(), before, `run ${run}: claims deleted or terminating`);
      assert.equal(guardObjects().length, 2, `run ${run}: the guard went with dist/`);
    }
    assert.equal((await cluster.apps.listNamespacedStatefulSet({ namespace: NAMESPACE })).items.length, 0, 'StatefulSets deleted');

    for (const attempt of [['-l', 'app.kubernetes.io/part-of=plane'], ['--all']]) {
      const refused = cluster.kubectl(['delete', 'pvc', '-n', NAMESPACE, ...attempt, '--wait=false']);
      assert.notEqual(refused.code, 0, attempt.join(' '));
      assert.equal((refused.stderr.match(/is forbidden: ValidatingAdmissionPolicy 'plane-keep-data'/g) ?? []).length, 5, refused.stderr);
    }
    const collection = cluster.kubectl(['delete', '--raw', `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims`]);
    assert.match(collection.stderr, /ValidatingAdmissionPolicy 'plane-keep-data'/);
    assert.equal(await namespacePhase(), 'Active');
    assert.deepEqual(await claimIds(), before);

    // The edge namespace holds no data and goes; a re-apply must wait until it is gone.
    await cluster.waitUntilGone('namespace', 'plane-edge');
    cluster.kubectlOk(['apply', '-f', DIST]);
    await cluster.waitUntilSettled(NAMESPACE);
    assert.deepEqual(await claimIds(), before, 'the re-applied StatefulSets use the same claims and volumes');
  });

  it("removes the workloads and keeps the data with the README's one command, which exits 0 run twice", async () => {
    const command = DOC_COMMANDS.keepData();
    const before = await claimIds();
    for (const run of [1, 2]) {
      const result = runBlock(command, REPO_ROOT);
      assert.equal(result.code, 0, `run ${run}: ${result.stderr}`);
      assert.equal(result.stderr, '', `run ${run}`);
    }
    assert.equal(await namespacePhase(), 'Active');
    assert.deepEqual(await claimIds(), before);
    assert.equal(
      cluster.kubectl(['get', 'storageclass', 'plane-retain', '-o', 'name']).stdout.trim(),
      'storageclass.storage.k8s.io/plane-retain',
    );
    assert.equal(guardObjects().length, 2);
    // Of every object of dist/, only those that hold data are left.
    const left = cluster.kubectlOk(['get', '-f', DIST, '--ignore-not-found', '-o', 'name']).stdout.trim().split('\n').sort();
    assert.deepEqual(left, ['namespace/plane', 'persistentvolumeclaim/plane-backup', 'storageclass.storage.k8s.io/plane-retain']);
    assert.deepEqual((await cluster.apps.listNamespacedStatefulSet({ namespace: NAMESPACE })).items, []);
    await cluster.waitUntilGone('namespace', 'plane-edge');
    cluster.kubectlOk(['apply', '-f', DIST]);
    await cluster.waitUntilSettled(NAMESPACE);
    assert.deepEqual(await claimIds(), before);
  });

  it("deletes the data only by the runbook's deliberate path; the kept volumes are re-attached as the runbook says", async () => {
    const bound = new Map(
      (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items
        .filter((c) => c.spec?.volumeName)
        .map((c) => [c.metadata?.name ?? '', { volume: c.spec?.volumeName ?? '', size: c.spec?.resources?.requests?.storage ?? '' }]),
    );
    assert.ok(bound.size >= 4, 'the four data claims are bound (the backup claim may wait for a backup)');

    const deletion = runBlock(DOC_COMMANDS.deleteData().text, REPO_ROOT);
    assert.equal(deletion.code, 0, deletion.stderr);
    await cluster.waitUntilGone('namespace', NAMESPACE);
    const volumes = new Map((await cluster.core.listPersistentVolume()).items.map((v) => [v.metadata?.name ?? '', v]));
    for (const [claim, { volume }] of bound) {
      assert.equal(volumes.get(volume)?.status?.phase, 'Released', `${claim}'s volume ${volume}`);
      assert.equal(volumes.get(volume)?.spec?.persistentVolumeReclaimPolicy, 'Retain');
    }

    const reattach = DOC_COMMANDS.reattachVolumes().text;
    const list = [...bound].map(([claim, { volume, size }]) => `${volume} ${claim} ${size}`).join('\n');
    assert.match(reattach, /<<'VOLUMES'\n[^\n]+\nVOLUMES\n/);
    const result = runBlock(reattach.replace(/<<'VOLUMES'\n[^\n]+\nVOLUMES\n/, `<<'VOLUMES'\n${list}\nVOLUMES\n`), REPO_ROOT);
    assert.equal(result.code, 0, result.stderr);
    await cluster.waitUntilSettled(NAMESPACE);
    const after = (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items;
    for (const [claim, { volume }] of bound) {
      const found = after.find((c) => c.metadata?.name === claim);
      assert.equal(found?.spec?.volumeName, volume, claim);
      assert.equal(found?.status?.phase, 'Bound', claim);
    }
  });

  it("moves an install of the previous dist/ (claims on local-path) to plane-retain with the runbook's block: same claims, same volumes", async (t) => {
    const git = (...args: string[]) => spawnSync('git', ['-C', REPO_ROOT, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (git('cat-file', '-e', `${PREVIOUS_DIST_COMMIT}^{commit}`).status !== 0) {
      t.skip(`commit ${PREVIOUS_DIST_COMMIT} (the last dist/ on local-path) is not in this clone`);
      return;
    }
    // From an empty namespace: the previous dist/ as it was deployed.
    cluster.kubectl(['delete', 'validatingadmissionpolicybinding', GUARD, '--ignore-not-found']);
    cluster.kubectlOk(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--timeout=120s']);
    await cluster.waitUntilGone('namespace', NAMESPACE);
    const previous = scratchDir('plane-previous-');
    fs.mkdirSync(path.join(previous, 'dist'));
    for (const file of git('ls-tree', '--name-only', PREVIOUS_DIST_COMMIT, 'dist/').stdout.trim().split('\n')) {
      fs.writeFileSync(path.join(previous, file), git('show', `${PREVIOUS_DIST_COMMIT}:${file}`).stdout);
    }
    cluster.kubectlOk(['apply', '-f', path.join(previous, 'dist')]);
    // A backup run binds the backup claim, as on an install that has made backups.
    cluster.kubectlOk(['-n', NAMESPACE, 'create', 'job', 'plane-backup-first', '--from=cronjob/plane-backup']);
    await cluster.waitUntilSettled(NAMESPACE);
    const claims = async () =>
      new Map(
        (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items.map((c) => [c.metadata?.name ?? '', c]),
      );
    const before = await claims();
    assert.deepEqual([...before.keys()].sort(), FIVE_CLAIMS);
    for (const c of before.values()) assert.equal(c.spec?.storageClassName, 'local-path');
    const backupVolume = before.get('plane-backup')?.spec?.volumeName;
    assert.ok(backupVolume, 'the backup claim is bound');
    // k3s' local-path volumes have reclaim Delete: as on the VPS (the test pool's are Retain).
    for (const c of before.values())
      cluster.kubectlOk(['patch', 'pv', c.spec?.volumeName ?? '', '-p', '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}']);
    // The new dist/ alone is refused: the immutable claim templates and claim class.
    const refused = cluster.kubectl(['apply', '-f', DIST]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /"plane-postgres" is invalid: spec: Forbidden/);
    // Its Job ran: the new guard stands, as it would on the VPS.
    assert.equal(runGuardJob().code, 0);
    cluster.kubectlOk(['-n', NAMESPACE, 'delete', 'job', 'plane-backup-first']);
    await cluster.waitUntilSettled(NAMESPACE);

    const migration = runBlock(DOC_COMMANDS.moveToRetain().text, REPO_ROOT);
    assert.equal(migration.code, 0, migration.stderr);
    await cluster.waitUntilSettled(NAMESPACE);
    assert.equal(runGuardJob().code, 0, 'the guard is applied again by its fresh Job');

    const after = await claims();
    assert.deepEqual([...after.keys()].sort(), FIVE_CLAIMS);
    for (const name of FIVE_CLAIMS.filter((n) => n !== 'plane-backup')) {
      assert.equal(after.get(name)?.metadata?.uid, before.get(name)?.metadata?.uid, `${name} is the same claim`);
      assert.equal(after.get(name)?.spec?.volumeName, before.get(name)?.spec?.volumeName, `${name} has the same volume`);
    }
    assert.equal(after.get('plane-backup')?.spec?.volumeName, backupVolume, 'the backup claim has its volume back');
    assert.equal(after.get('plane-backup')?.spec?.storageClassName, 'plane-retain');
    assert.equal(after.get('plane-backup')?.status?.phase, 'Bound');
    for (const c of after.values()) {
      const volume = await cluster.core.readPersistentVolume({ name: c.spec?.volumeName ?? '' });
      assert.equal(volume.spec?.persistentVolumeReclaimPolicy, 'Retain', `${c.metadata?.name}'s volume outlives it`);
    }
    for (const s of (await cluster.apps.listNamespacedStatefulSet({ namespace: NAMESPACE })).items) {
      assert.equal(s.spec?.volumeClaimTemplates?.[0].spec?.storageClassName, 'plane-retain', s.metadata?.name);
    }
    for (const old of ['plane-keep-namespace', 'plane-backup-keep-volume']) {
      assert.equal(
        cluster
          .kubectl(['get', 'validatingadmissionpolicy,validatingadmissionpolicybinding', old, '--ignore-not-found', '-o', 'name'])
          .stdout.trim(),
        '',
        `the old guard ${old} is gone`,
      );
    }
    const apply = cluster.kubectlOk(['apply', '-f', DIST]);
    assert.deepEqual(
      apply.stdout
        .trim()
        .split('\n')
        .filter((l) => !l.endsWith(' unchanged')),
      [],
      'a second apply changes nothing',
    );
    assert.equal(cluster.kubectl(['delete', 'pvc', '--all', '-n', NAMESPACE, '--wait=false']).code, 1, 'the guard is back');
    fs.rmSync(previous, { recursive: true, force: true });
  });
});
