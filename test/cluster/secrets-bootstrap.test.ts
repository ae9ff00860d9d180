/**
 * The secrets bootstrap on a real API server. kwok runs no container, so the Job's own script (from the
 * ConfigMap `kubectl apply -f dist` stored) is run here with python3, as the Job's pod would run it:
 * with a token of the Job's ServiceAccount, the cluster's CA, KUBERNETES_SERVICE_HOST/PORT. RBAC,
 * admission and the Secrets it writes are the API server's own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { synthesize } from '../../lib/synth';
import { buildStack } from '../../main';
import { GENERATED_FORMATS, Manifest, REPO_ROOT, siteWith } from '../helpers';
import { DOC_COMMANDS } from '../readme';
import { scratchDir, TestCluster } from './harness';

const DIST = path.join(REPO_ROOT, 'dist');
const NAMESPACE = 'plane';
const ACCOUNT = 'plane-secrets';

describe('secrets bootstrap on a real control plane', { concurrency: 1 }, () => {
  let cluster: TestCluster;
  let accountDir: string;

  before(() => {
    cluster = TestCluster.start();
    accountDir = scratchDir('plane-sa-');
  });

  after(() => {
    cluster?.stop();
    fs.rmSync(accountDir, { recursive: true, force: true });
  });

  const secretData = async (name: string): Promise<Record<string, string> | undefined> => {
    try {
      const secret = await cluster.core.readNamespacedSecret({ name, namespace: NAMESPACE });
      return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    } catch {
      return undefined;
    }
  };

  /** The spec the Job reads, as the API server stores it. */
  const storedSpec = () =>
    JSON.parse(
      JSON.parse(cluster.kubectlOk(['get', 'configmap', 'plane-secrets-files', '-n', NAMESPACE, '-o', 'json']).stdout).data['secrets.json'],
    );

  /** Runs the Job's script, from the stored ConfigMap, as the Job's ServiceAccount. */
  function runBootstrap(): { code: number; stdout: string; stderr: string } {
    const files = JSON.parse(cluster.kubectlOk(['get', 'configmap', 'plane-secrets-files', '-n', NAMESPACE, '-o', 'json']).stdout).data;
    const work = scratchDir('plane-bootstrap-');
    for (const [file, content] of Object.entries(files as Record<string, string>)) fs.writeFileSync(path.join(work, file), content);
    const token = cluster.kubectlOk(['create', 'token', ACCOUNT, '-n', NAMESPACE, '--duration=10m']).stdout.trim();
    fs.writeFileSync(path.join(accountDir, 'token'), token);
    const kubeconfig = parse(fs.readFileSync(cluster.kubeconfig, 'utf8'));
    fs.writeFileSync(path.join(accountDir, 'ca.crt'), Buffer.from(kubeconfig.clusters[0].cluster['certificate-authority-data'], 'base64'));
    const server = new URL(kubeconfig.clusters[0].cluster.server);
    const result = spawnSync('python3', [path.join(work, 'plane_k3s_secrets.py')], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        KUBERNETES_SERVICE_HOST: server.hostname,
        KUBERNETES_SERVICE_PORT: server.port,
        PLANE_K3S_SERVICE_ACCOUNT_DIR: accountDir,
        PLANE_K3S_SPEC_FILE: path.join(work, 'secrets.json'),
      },
    });
    fs.rmSync(work, { recursive: true, force: true });
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  }

  let kept: Record<string, string>;

  it('applies dist/ as the README says, with no Secret made by hand', async () => {
    cluster.kubectlOk(['apply', '-f', path.join(DIST, '0000-namespace.k8s.yaml')]);
    // One Secret loaded beforehand (as from the seed's vault): it must be kept as it is.
    cluster.kubectlOk([
      'create',
      'secret',
      'generic',
      'plane-redis',
      '-n',
      NAMESPACE,
      `--from-literal=password=${Math.random().toString(16).slice(2)}vault`,
    ]);
    kept = (await secretData('plane-redis')) as Record<string, string>;
    const apply = cluster.kubectlOk(['apply', '-f', DIST]);
    assert.doesNotMatch(apply.stderr, /warning|PodSecurity|violate/i, apply.stderr);
    await cluster.waitUntilSettled(NAMESPACE);
    const jobs = (await cluster.batch.listNamespacedJob({ namespace: NAMESPACE })).items.map((j) => j.metadata?.name ?? '');
    assert.ok(jobs.some((j) => j.startsWith('plane-secrets-')) && jobs.some((j) => j.startsWith('plane-provisioning-')), `${jobs}`);
    // The Jobs' pods were admitted under the namespace's "restricted" enforcement.
    const pods = (await cluster.core.listNamespacedPod({ namespace: NAMESPACE })).items.map((p) => p.metadata?.name ?? '');
    assert.ok(pods.some((p) => p.startsWith('plane-secrets-')) && pods.some((p) => p.startsWith('plane-provisioning-')), `${pods}`);
  });

  it('creates every missing Secret with its keys in their formats, keeps the one that existed, prints no value', async () => {
    const run = runBootstrap();
    assert.equal(run.code, 0, run.stderr);
    const spec = storedSpec();
    for (const secret of spec.secrets as Manifest[]) {
      const data = await secretData(secret.name);
      assert.ok(data, `${secret.name} was not created`);
      for (const [key, source] of Object.entries(secret.keys as Record<string, Manifest>)) {
        assert.ok(key in data, `${secret.name} lacks ${key}`);
        if (secret.name === 'plane-redis') continue;
        if (source.value !== undefined) assert.equal(data[key], source.value, `${secret.name}/${key}`);
        else assert.ok(GENERATED_FORMATS[source.generate].test(data[key]), `${secret.name}/${key} is not ${source.generate}`);
        assert.ok(!run.stdout.includes(data[key]) || source.value !== undefined, `${secret.name}/${key} printed`);
      }
    }
    assert.deepEqual(await secretData('plane-redis'), kept, 'the Secret that existed is unchanged');
    assert.match(run.stdout, /^secret plane-redis: exists, kept$/m);
    assert.match(run.stdout, /^secret plane-postgres: created \(keys password\)$/m);
    const tokens = new Set<string>();
    for (const secret of spec.secrets as Manifest[]) {
      const value = (await secretData(secret.name))?.PLANE_API_KEY;
      if (value) tokens.add(value);
    }
    assert.equal(tokens.size, 11, 'one distinct token for the admin and each agent');
  });

  it('puts no value in any annotation (the Secrets are created, not applied)', () => {
    const secrets = JSON.parse(cluster.kubectlOk(['get', 'secrets', '-n', NAMESPACE, '-o', 'json']).stdout).items as Manifest[];
    for (const secret of secrets) {
      const annotations = JSON.stringify(secret.metadata.annotations ?? {});
      for (const value of Object.values(secret.data ?? {}) as string[]) {
        assert.ok(
          !annotations.includes(value) && !annotations.includes(Buffer.from(value, 'base64').toString()),
          `${secret.metadata.name} has a value in an annotation`,
        );
      }
    }
  });

  it('a second run changes nothing', async () => {
    const before = await Promise.all(storedSpec().secrets.map((s: Manifest) => secretData(s.name)));
    const run = runBootstrap();
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /created/);
    assert.deepEqual(await Promise.all(storedSpec().secrets.map((s: Manifest) => secretData(s.name))), before);
  });

  it('reports a Secret that lacks a key, and leaves it as it is', async () => {
    cluster.kubectlOk(['delete', 'secret', 'plane-rabbitmq', '-n', NAMESPACE]);
    cluster.kubectlOk(['create', 'secret', 'generic', 'plane-rabbitmq', '-n', NAMESPACE, '--from-literal=pass=x']);
    const run = runBootstrap();
    assert.equal(run.code, 1);
    assert.match(run.stderr, /secret plane-rabbitmq: exists without the keys password; it is never changed here/);
    assert.deepEqual(await secretData('plane-rabbitmq'), { pass: 'x' });
    cluster.kubectlOk(['delete', 'secret', 'plane-rabbitmq', '-n', NAMESPACE]);
    assert.equal(runBootstrap().code, 0, 'deleted, it is made again');
  });

  it('its ServiceAccount can create Secrets and read its own, and nothing else', () => {
    const can = (...args: string[]) =>
      cluster.kubectl(['auth', 'can-i', '-n', NAMESPACE, `--as=system:serviceaccount:${NAMESPACE}:${ACCOUNT}`, ...args]).stdout.trim();
    assert.equal(can('create', 'secrets'), 'yes');
    assert.equal(can('get', 'secret/plane-postgres'), 'yes');
    assert.equal(can('get', 'secret/plane-agent-builder'), 'yes');
    for (const denied of [
      ['get', 'secret/plane-edge-tls'],
      ['get', 'secret/someone-elses'],
      ['list', 'secrets'],
      ['watch', 'secrets'],
      ['update', 'secret/plane-postgres'],
      ['patch', 'secret/plane-postgres'],
      ['delete', 'secret/plane-postgres'],
      ['create', 'pods'],
      ['get', 'configmaps'],
      ['create', 'secrets', '-n', 'plane-edge'],
      ['create', 'rolebindings'],
    ]) {
      assert.equal(can(...denied), 'no', denied.join(' '));
    }
  });

  it("its ServiceAccount may create only the stack's missing Secrets, of type Opaque: the admission policy refuses the rest", () => {
    const as = `--as=system:serviceaccount:${NAMESPACE}:${ACCOUNT}`;
    // Server-side dry runs: admission runs, nothing is stored.
    const create = (...args: string[]) => cluster.kubectl(['create', '-n', NAMESPACE, as, '--dry-run=server', ...args]);
    cluster.kubectlOk(['delete', 'secret', 'plane-agent-writer', '-n', NAMESPACE]);
    try {
      const own = create('secret', 'generic', 'plane-agent-writer', '--from-literal=PLANE_API_KEY=x');
      assert.equal(own.code, 0, own.stderr);
      for (const [what, args] of [
        ['a Secret the stack does not make', ['secret', 'generic', 'plane-agent-future', '--from-literal=k=v']],
        ['a Secret of the operator', ['secret', 'generic', 'plane-edge-tls-copy', '--from-literal=k=v']],
        [
          'a docker config',
          ['secret', 'docker-registry', 'plane-agent-writer', '--docker-server=r', '--docker-username=u', '--docker-password=p'],
        ],
      ] as const) {
        const refused = create(...args);
        assert.notEqual(refused.code, 0, what);
        assert.match(refused.stderr, /ValidatingAdmissionPolicy 'plane-plane-secrets'|may create only/, `${what}: ${refused.stderr}`);
      }
      // A token Secret for its own account (a non-expiring token): refused, though named like one of its Secrets.
      const tokenSecret = JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/service-account-token',
        metadata: { name: 'plane-agent-writer', namespace: NAMESPACE, annotations: { 'kubernetes.io/service-account.name': ACCOUNT } },
      });
      const token = cluster.kubectl(['create', '-f', '-', as, '--dry-run=server'], tokenSecret);
      assert.notEqual(token.code, 0, 'a token Secret for itself');
      assert.match(token.stderr, /may create only Opaque Secrets/, token.stderr);
      // Anyone else is not concerned by the policy.
      assert.equal(
        cluster.kubectl(['create', '-n', NAMESPACE, '--dry-run=server', 'secret', 'generic', 'plane-agent-future', '--from-literal=k=v'])
          .code,
        0,
      );
    } finally {
      assert.equal(runBootstrap().code, 0, 'the deleted Secret is made again');
    }
  });

  it("the Job's pod gets a token valid 10 minutes, never the automounted one", () => {
    const job = JSON.parse(
      cluster.kubectlOk(['get', 'jobs', '-n', NAMESPACE, '-l', 'app.kubernetes.io/name=secrets-bootstrap', '-o', 'json']).stdout,
    ).items[0];
    const pod = job.spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    const sources = pod.volumes.flatMap((v: Manifest) => v.projected?.sources ?? []);
    assert.deepEqual(sources.find((s: Manifest) => s.serviceAccountToken)?.serviceAccountToken, { path: 'token', expirationSeconds: 600 });
  });

  it("the runbook's commands: an agent's connection file, the Secrets' backup, the bootstrap Job's label", async () => {
    const kubectlDir = path.dirname(cluster.kubectlPath);
    const runBlock = (text: string, cwd: string) =>
      spawnSync('bash', ['-euo', 'pipefail', '-c', text], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, PATH: `${kubectlDir}:${process.env.PATH}`, KUBECONFIG: cluster.kubeconfig },
      });
    const work = scratchDir('plane-readme-commands-');
    const connection = runBlock(DOC_COMMANDS.connectionFile().text, work);
    assert.equal(connection.status, 0, connection.stderr);
    assert.equal(connection.stdout, '', 'nothing printed');
    const file = path.join(work, 'builder.env');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const secret = (await secretData('plane-agent-builder')) as Record<string, string>;
    assert.deepEqual(
      fs.readFileSync(file, 'utf8').trim().split('\n').sort(),
      Object.entries(secret)
        .map(([k, v]) => `${k}=${v}`)
        .sort(),
    );

    const backup = runBlock(DOC_COMMANDS.secretsExport().text, work);
    assert.equal(backup.status, 0, backup.stderr);
    const saved = parse(fs.readFileSync(path.join(work, 'plane-secrets.yaml'), 'utf8'));
    assert.equal(fs.statSync(path.join(work, 'plane-secrets.yaml')).mode & 0o777, 0o600);
    // The one Secret loaded by hand (plane-redis) carries no label; every other one made is in the backup.
    assert.deepEqual(
      saved.items.map((s: Manifest) => s.metadata.name).sort(),
      storedSpec()
        .secrets.map((s: Manifest) => s.name)
        .filter((n: string) => n !== 'plane-redis')
        .sort(),
    );
    fs.rmSync(work, { recursive: true, force: true });

    const rotation = DOC_COMMANDS.bootstrapRerun();
    const selector = /-l (\S+)/.exec(rotation)?.[1] as string;
    const selected = cluster.kubectlOk(['get', 'jobs', '-n', NAMESPACE, '-l', selector, '-o', 'name']).stdout.trim().split('\n');
    assert.ok(selected.length > 0 && selected.every((j) => j.startsWith('job.batch/plane-secrets-')), `${selected}`);
  });

  it("a change of users yields a new bootstrap and provisioning run, which adds only the new agent's Secret", async () => {
    const jobsBefore = new Set((await cluster.batch.listNamespacedJob({ namespace: NAMESPACE })).items.map((j) => j.metadata?.name));
    const outdir = path.join(scratchDir('plane-users-'), 'dist');
    synthesize(buildStack, {
      site: siteWith((s) => {
        s.users.agents.push({ id: 'scribe', email: 'scribe@agents.javisi.local', displayName: 'Scribe (Notes AI)', role: 'Member' });
      }),
      outdir,
    });
    cluster.kubectlOk(['apply', '-f', outdir]);
    await cluster.waitUntilSettled(NAMESPACE);
    const added = (await cluster.batch.listNamespacedJob({ namespace: NAMESPACE })).items
      .map((j) => j.metadata?.name ?? '')
      .filter((j) => !jobsBefore.has(j));
    assert.deepEqual(added.map((j) => j.replace(/-[0-9a-f]{8}$/, '')).sort(), ['plane-provisioning-v1-2-2', 'plane-secrets-v1-2-2']);
    const run = runBootstrap();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      run.stdout.split('\n').filter((l) => l.includes('created')),
      ['secret plane-agent-scribe: created (keys PLANE_API_KEY, PLANE_BASE_URL, PLANE_WORKSPACE_SLUG)'],
    );
  });
});
