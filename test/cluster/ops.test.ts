/**
 * The operator's CLI (ops/, `plane-k3s`) as the operator runs it (the package's bin, a kubeconfig),
 * against the test control plane. kwok stands in for the kubelet of its node and serves, through the
 * real API server, what the CLI asks of pods:
 * - port-forward: the api pods' 8000 to Plane (below), PostgreSQL's 5432 to a real PostgreSQL 18 whose
 *   user `plane` has the password loaded into the cluster's Secret, Caddy's 8443 to a real Caddy running
 *   the site's Caddyfile in front of that Plane;
 * - logs: real Plane log lines, and the real output of the backup and restore scripts run on that
 *   PostgreSQL;
 * - exec: the api container's environment (the names the manifest declares).
 *
 * Plane: the real v1.2.2 backend when PLANE_TEST_MANAGE and PLANE_TEST_BASE_URL name one (as for
 * `npm run test:plane`; PLANE_TEST_API_LOG and PLANE_TEST_WORKER_LOG its log files, the worker running
 * lib/plane/celery's harness as the manifest does; PLANE_TEST_WORKER_ERROR_LOG a log of Plane's default
 * worker, which logs an ERROR for every API request). With PLANE_TEST_RECORD=1 its answers and logs are
 * recorded to test/cluster/fixtures/. Otherwise (CI) the answers recorded from it are replayed, in the
 * same order. No token is ever in a fixture or an output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { renderCaddyfile } from '../../lib/edge/caddyfile';
import { siteCaddyfileOptions } from '../../lib/edge/edge-site';
import { PlaneUpstreams, UpstreamName } from '../../lib/edge/plane-routes';
import { PROVISION_MODULE, provisioningSecretEnv } from '../../lib/plane/provisioning';
import { envVariable, generateValue } from '../../ops/secrets';
import { Stack } from '../../ops/stack';
import { ProcessRun, REPO_ROOT, runProcess } from '../helpers';
import { CADDY_PORTS } from '../../lib/edge/caddy-image';
import { freePort, logInto, makeCertificate, RunningCaddy, startCaddy, startStubs, Stubs, TestCertificate } from '../edge/harness';
import { PostgresServer, backupToolsOnPath } from '../postgres/harness';
import { runKeepDataJob, scratchDir, TestCluster } from './harness';
import {
  Callers,
  criLog,
  Exchange,
  FIXTURE_FILE,
  logTail,
  maskTokens,
  PlaneFixture,
  PlaneSide,
  readFixture,
  readRehearsalFixture,
  recordingProxy,
  replayServer,
} from './plane-fixture';

const MANAGE = process.env.PLANE_TEST_MANAGE;
const BASE_URL = process.env.PLANE_TEST_BASE_URL?.replace(/\/$/, '');
const REAL = Boolean(MANAGE && BASE_URL);
const RECORD = REAL && process.env.PLANE_TEST_RECORD === '1';
const stack = Stack.load();
const NS = stack.namespace;
const DIST = path.join(REPO_ROOT, 'dist');
const BIN = path.join(REPO_ROOT, 'scripts', 'plane-k3s.mjs');

interface JsonReport {
  command: string;
  context: string;
  ok: boolean;
  summary: { pass: number; warn: number; fail: number; skip: number };
  checks: { id: string; status: 'pass' | 'fail' | 'skip'; detail: string; fix?: string }[];
}

/** The last ERROR line of Plane's default worker (the unregistered-task error, with a token in it: masked). */
function workerErrorLines(): string[] {
  const file = process.env.PLANE_TEST_WORKER_ERROR_LOG;
  assert.ok(file, "PLANE_TEST_WORKER_ERROR_LOG: a log of Plane's default worker");
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => /"levelname": "ERROR"/.test(l))
    .slice(-1)
    .map(maskTokens);
}

describe("plane-k3s, the operator's CLI, on a real control plane", { concurrency: 1 }, () => {
  const work = scratchDir('plane-ops-');
  const outputs: string[] = [];
  const secretValues: string[] = [];
  const tokens = new Map<string, string>(); // caller → token
  let cluster: TestCluster;
  let pg: PostgresServer;
  let plane: PlaneSide;
  let stubs: Stubs;
  let caddy: RunningCaddy;
  let fixture: PlaneFixture | undefined;
  let edgeCertificate: TestCertificate;
  const logFile = (name: string) => path.join(work, `${name}.log`);
  const callers = (): Callers => new Map([...tokens.entries()].map(([caller, token]) => [token, caller]));

  /** The CLI, as `npx plane-k3s` runs it, with the test cluster's kubeconfig. */
  async function cli(args: string[], input?: string): Promise<ProcessRun> {
    const result = await runProcess(
      process.execPath,
      [BIN, '--kubeconfig', cluster.kubeconfig, ...args],
      { ...process.env, SITE_CONFIG: '' },
      input,
    );
    outputs.push(result.stdout, result.stderr);
    return result;
  }

  async function cliJson(args: string[]): Promise<{ code: number; report: JsonReport }> {
    const result = await cli(['--json', ...args]);
    assert.equal(result.stderr, '', 'with --json nothing but the report is written');
    return { code: result.code, report: JSON.parse(result.stdout) };
  }

  const check = (report: JsonReport, id: string) => {
    const found = report.checks.find((c) => c.id === id);
    assert.ok(found, `no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
    return found;
  };

  /** Every check passed or was skipped, but those listed. */
  const failuresOf = (report: JsonReport) => report.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.detail}`);

  /** Provisions the real backend with the tokens of the cluster's Secrets (what the provisioning Job does there). */
  async function provisionRealPlane(): Promise<void> {
    const usersFile = path.join(work, 'users.json');
    fs.writeFileSync(usersFile, JSON.stringify(stack.users));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONPATH: path.join(REPO_ROOT, 'lib', 'plane', 'provision'),
      PLANE_K3S_USERS_FILE: usersFile,
    };
    // The variables the provisioning Job reads, from the Secrets its manifest names.
    for (const [variable, ref] of Object.entries(provisioningSecretEnv(stack.site))) {
      const secret = await cluster.core.readNamespacedSecret({ name: ref.secretName, namespace: NS });
      env[variable] = Buffer.from(secret.data?.[ref.key] ?? '', 'base64').toString();
    }
    const result = await runProcess(
      MANAGE as string,
      ['shell', '--command', `import ${PROVISION_MODULE}; ${PROVISION_MODULE}.main()`],
      env,
    );
    assert.equal(result.code, 0, `provisioning the real backend failed: ${result.stderr.slice(-300)}`);
  }

  before(async () => {
    // A real PostgreSQL with Plane's user, and real output of the backup, drill and restore scripts on it
    // with the real restic (the rclone steps, which need a store, log nothing here).
    pg = await PostgresServer.start('plane', 'plane');
    pg.sql('plane', "CREATE TABLE projects (id int primary key, name text); INSERT INTO projects VALUES (1, 'VPAI')");
    const scripts = path.join(REPO_ROOT, 'lib', 'data', 'backup');
    const backupDir = path.join(work, 'backups');
    fs.mkdirSync(backupDir);
    const restic = backupToolsOnPath(work);
    const repositoryKey = generateValue('hex32');
    const script = async (name: string, logName: string, extra: Record<string, string>, args: string[] = []) => {
      const scratch = extra.WORK_DIR as string;
      const result = await runProcess(
        'sh',
        [path.join(scripts, name), ...args],
        pg.env({
          PATH: `${restic}:${pg.env().PATH}`,
          BACKUP_DIR: backupDir,
          BACKUP_KEEP: '3',
          PLANE_VERSION: stack.site.images.plane.tag,
          RESTIC_REPOSITORY: path.join(backupDir, 'restic'),
          RESTIC_PASSWORD: repositoryKey,
          RESTIC_CACHE_DIR: path.join(scratch, '.cache'),
          ...extra,
        }),
      );
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      fs.writeFileSync(logFile(logName), criLog(result.stdout.split('\n').filter(Boolean)));
    };
    const backupScratch = scratchDir('plane-ops-backup-');
    await script('dump-postgres.sh', 'dump-postgres', { WORK_DIR: backupScratch });
    await script('snapshot.sh', 'snapshot', { WORK_DIR: backupScratch });
    const drillScratch = scratchDir('plane-ops-drill-');
    await script('unpack.sh', 'drill-unpack', { WORK_DIR: drillScratch }, ['drill']);
    // PostgreSQL refuses root: as root here, the throw-away server's step runs as nobody.
    const drillCommand = ['env', `PATH=${pg.env().PATH}`, `WORK_DIR=${drillScratch}`, 'sh', path.join(scripts, 'drill-postgres.sh')];
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'nobody', drillScratch]);
    const drill =
      process.getuid?.() === 0
        ? spawnSync('runuser', ['-u', 'nobody', '--', ...drillCommand], { encoding: 'utf8' })
        : spawnSync(drillCommand[0], drillCommand.slice(1), { encoding: 'utf8' });
    assert.equal(drill.status, 0, drill.stderr);
    fs.writeFileSync(logFile('drill-postgres'), criLog(drill.stdout.split('\n').filter(Boolean)));
    await script('finish-restore.sh', 'drill-record', { WORK_DIR: drillScratch }, ['drill']);
    // The restore template in list mode logs the list; a run, the snapshot it restored.
    await script('unpack.sh', 'unpack', { WORK_DIR: scratchDir('plane-ops-list-'), RESTORE_BACKUP: 'list' });
    const restoreScratch = scratchDir('plane-ops-restore-');
    await script('unpack.sh', 'unpack-run', { WORK_DIR: restoreScratch, RESTORE_BACKUP: 'latest' });
    await script('restore-postgres.sh', 'restore-postgres', { WORK_DIR: restoreScratch, RESTORE_BACKUP: 'latest' });
    // The rehearsal template's steps: the unpack and the copy's server for real (the test stands where the
    // migration step does, and ends it); the migration's own lines from a real run of the target's code.
    const rehearsalScratch = scratchDir('plane-ops-rehearsal-');
    const signals = scratchDir('plane-ops-rehearsal-signals-');
    await script('unpack.sh', 'rehearse-unpack', { WORK_DIR: rehearsalScratch, RESTORE_BACKUP: 'latest' }, ['rehearse']);
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'nobody', rehearsalScratch, signals]);
    const serverCommand = [
      'env',
      `PATH=${pg.env().PATH}`,
      `WORK_DIR=${rehearsalScratch}`,
      `REHEARSAL_SIGNALS=${signals}`,
      `REHEARSAL_PORT=${await freePort()}`,
      'sh',
      path.join(scripts, 'rehearse-postgres.sh'),
    ];
    const server = runProcess(
      process.getuid?.() === 0 ? 'runuser' : serverCommand[0],
      process.getuid?.() === 0 ? ['-u', 'nobody', '--', ...serverCommand] : serverCommand.slice(1),
      process.env,
    );
    for (let i = 0; i < 600 && !fs.existsSync(path.join(signals, 'ready')); i++) await new Promise((r) => setTimeout(r, 100));
    fs.writeFileSync(path.join(signals, 'done'), '0\n');
    const served = await server;
    assert.equal(served.code, 0, served.stderr);
    fs.writeFileSync(logFile('rehearse-postgres'), criLog(served.stdout.split('\n').filter(Boolean)));
    fs.writeFileSync(logFile('rehearse-migrate'), criLog(readRehearsalFixture().logs['rehearse-migrate']));
    fs.writeFileSync(logFile('empty'), '');

    // Every generated value of the stack's Secrets, in the env file `secrets load` reads.
    const lines: string[] = [];
    for (const secret of stack.secrets) {
      for (const [key, making] of Object.entries(secret.keys)) {
        if (!('generate' in making)) continue;
        const value =
          secret.name === 'plane-postgres'
            ? pg.password
            : secret.name === 'plane-backup-key'
              ? repositoryKey
              : generateValue(making.generate);
        secretValues.push(value);
        lines.push(`${envVariable(secret.name, key)}=${value}`);
        if (key === 'PLANE_API_KEY')
          tokens.set(secret.name === 'plane-admin' ? 'admin' : `agent:${secret.name.replace('plane-agent-', '')}`, value);
      }
    }
    fs.writeFileSync(path.join(work, 'vault.env'), `# from the vault\n${lines.join('\n')}\n`, { mode: 0o600 });

    // Plane: the real backend through a recording proxy, or the recording.
    if (REAL) plane = await recordingProxy(BASE_URL as string, callers);
    else {
      fixture = readFixture();
      plane = await replayServer(fixture, callers);
    }
    const apiLog = REAL ? logTail(process.env.PLANE_TEST_API_LOG as string, 50) : (fixture as PlaneFixture).logs.api;
    const workerLog = REAL ? logTail(process.env.PLANE_TEST_WORKER_LOG as string, 50) : (fixture as PlaneFixture).logs.worker;
    fs.writeFileSync(logFile('plane-api'), criLog(apiLog));
    fs.writeFileSync(logFile('plane-worker'), criLog(workerLog));

    // A real Caddy with the site's Caddyfile: the api upstream is Plane, the others stubs.
    const names: UpstreamName[] = ['web', 'space', 'admin', 'live', 'api', 'objectStore'];
    stubs = await startStubs(names);
    const upstreams = Object.fromEntries(
      names.map((n) => [n, { host: '127.0.0.1', port: n === 'api' ? plane.port : stubs.ports[n] }]),
    ) as unknown as PlaneUpstreams;
    const caddyDir = scratchDir('plane-ops-caddy-');
    // 90 days, as an ACME certificate: verify wants 14 days left on one the operator renews.
    edgeCertificate = makeCertificate(caddyDir, stack.appHost, 90);
    const certificate = edgeCertificate;
    const ports = { http: await freePort(), https: await freePort(), health: await freePort() };
    const caddyOptions = siteCaddyfileOptions(stack.site, upstreams);
    caddy = await startCaddy(
      renderCaddyfile({
        ...caddyOptions,
        ports,
        bind: ['127.0.0.1'],
        tls: { mode: 'files', certFile: certificate.certFile, keyFile: certificate.keyFile },
        auditLog: logInto(caddyDir, caddyOptions.auditLog),
      }),
      caddyDir,
      ports.health,
    );

    // What kwok's node serves for the pods.
    const caddyPort = CADDY_PORTS.https;
    const apiEnv = stack.declaredEnv('api');
    const kwokConfig = [
      {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ClusterPortForward',
        metadata: { name: 'plane' },
        spec: {
          forwards: [
            { ports: [stack.apiService.port], target: { address: '127.0.0.1', port: plane.port } },
            { ports: [5432], target: { address: '127.0.0.1', port: pg.port } },
            { ports: [caddyPort], target: { address: '127.0.0.1', port: ports.https } },
          ],
        },
      },
      {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ClusterLogs',
        metadata: { name: 'plane' },
        spec: {
          logs: [
            ...[
              'plane-api',
              'plane-worker',
              'dump-postgres',
              'snapshot',
              'drill-unpack',
              'drill-postgres',
              'drill-record',
              'unpack',
              'restore-postgres',
              'rehearse-unpack',
              'rehearse-postgres',
              'rehearse-migrate',
            ].map((c) => ({ containers: [c], logsFile: logFile(c) })),
            { containers: [], logsFile: logFile('empty') },
          ],
        },
      },
      {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'ClusterExec',
        metadata: { name: 'plane' },
        spec: {
          execs: [
            {
              containers: [stack.workload('Deployment', 'api').container],
              local: { workDir: work, envs: apiEnv.map((name: string) => ({ name, value: 'set' })) },
            },
          ],
        },
      },
    ];
    const kwokFile = path.join(work, 'kwok.yaml');
    fs.writeFileSync(kwokFile, kwokConfig.map((d) => stringify(d)).join('---\n'));
    cluster = TestCluster.start([kwokFile]);
  });

  after(async () => {
    cluster?.stop();
    await caddy?.stop();
    await stubs?.close();
    await plane?.close();
    pg?.stop();
    if (RECORD && plane) {
      const workerLog = process.env.PLANE_TEST_WORKER_LOG as string;
      const recorded: PlaneFixture = {
        recorded: {
          plane: 'v1.2.2 (makeplane/plane tag v1.2.2, backend run from source)',
          at: new Date().toISOString(),
          how: 'PLANE_TEST_RECORD=1 npm run test:cluster with PLANE_TEST_MANAGE/BASE_URL (test/cluster/ops.test.ts)',
        },
        exchanges: plane.exchanges,
        logs: {
          api: logTail(process.env.PLANE_TEST_API_LOG as string, 50),
          worker: logTail(workerLog, 50),
          workerWithError: workerErrorLines(),
        },
      };
      fs.mkdirSync(path.dirname(FIXTURE_FILE), { recursive: true });
      fs.writeFileSync(FIXTURE_FILE, `${JSON.stringify(recorded, null, 1)}\n`);
    }
    fs.rmSync(work, { recursive: true, force: true });
  });

  it(`runs against ${REAL ? `the real Plane backend at ${BASE_URL}${RECORD ? ', recording' : ''}` : 'the answers recorded from the real Plane backend'}`, () => {
    if (!REAL) assert.match((fixture as PlaneFixture).recorded.plane, /^v1\.2\.2/);
  });

  it('secrets load before the namespace exists: fails with the file to apply, creates nothing', async () => {
    const { code, report } = await cliJson(['secrets', 'load', path.join(work, 'vault.env')]);
    assert.equal(code, 1);
    const load = check(report, 'secrets/load');
    assert.equal(load.status, 'fail');
    assert.match(load.fix ?? '', new RegExp(`kubectl apply -f dist/${stack.namespaceFile}`));
    assert.ok(fs.existsSync(path.join(DIST, stack.namespaceFile)), `${stack.namespaceFile} is a file of dist/`);
  });

  it('secrets load refuses a bad file in one line, exit 2, before touching the cluster', async () => {
    const typo = path.join(work, 'typo.env');
    fs.writeFileSync(typo, 'PLANE_POSTGRES__PASSWROD=0123456789abcdef0123\n');
    const unknown = await cli(['secrets', 'load', typo]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /^plane-k3s: .*PLANE_POSTGRES__PASSWROD is not a key of the stack's Secrets; that Secret's are PLANE_POSTGRES__PASSWORD\n$/,
    );
    fs.writeFileSync(typo, 'PLANE_REDIS__PASSWORD=p@ss:word/with#url%chars\n');
    const unsafe = await cli(['secrets', 'load', typo]);
    assert.equal(unsafe.code, 2);
    assert.match(unsafe.stderr, /PLANE_REDIS__PASSWORD must be at least 16 characters of A-Z a-z 0-9/);
    assert.doesNotMatch(unsafe.stderr, /p@ss/, 'the value is not echoed');
    fs.writeFileSync(typo, `PLANE_OBJECT_STORE__ACCESS_KEY_ID=GK${'a'.repeat(24)}\n`);
    const partial = await cli(['secrets', 'load', typo]);
    assert.equal(partial.code, 2);
    assert.match(
      partial.stderr,
      /plane-object-store needs all its keys or none; missing PLANE_OBJECT_STORE__RPC_SECRET, PLANE_OBJECT_STORE__SECRET_ACCESS_KEY/,
    );
  });

  it('secrets load creates every Secret of the file after the namespace, and keeps them on a second load', async () => {
    cluster.kubectlOk(['apply', '-f', path.join(DIST, stack.namespaceFile)]);
    const first = await cliJson(['secrets', 'load', path.join(work, 'vault.env')]);
    assert.equal(first.code, 0, failuresOf(first.report).join('\n'));
    assert.deepEqual(
      first.report.checks.map((c) => c.status),
      stack.secrets.map(() => 'pass'),
    );
    const stored = await cluster.core.readNamespacedSecret({ name: 'plane-postgres', namespace: NS });
    assert.equal(Buffer.from(stored.data?.password ?? '', 'base64').toString(), pg.password);
    assert.equal(
      stored.metadata?.labels?.['app.kubernetes.io/managed-by'],
      'plane-secrets',
      "labelled like the bootstrap's, so the README's backup command takes them",
    );
    assert.equal(stored.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    // From stdin, as `ansible-vault view vault.env | plane-k3s secrets load -`.
    const again = await cli(['--json', 'secrets', 'load', '-'], fs.readFileSync(path.join(work, 'vault.env'), 'utf8'));
    assert.equal(again.code, 0);
    const report = JSON.parse(again.stdout) as JsonReport;
    assert.ok(
      report.checks.every((c) => c.status === 'skip' && /exists: kept as it is \(same values\)/.test(c.detail)),
      again.stdout,
    );
  });

  it('deploys as the README says (TLS Secret, kubectl apply -f dist) and settles', async () => {
    cluster.kubectlOk(['apply', '-f', path.join(DIST, '0001-edge-namespace.k8s.yaml')]);
    cluster.kubectlOk([
      '-n',
      stack.edgeNamespace,
      'create',
      'secret',
      'tls',
      'plane-edge-tls',
      `--cert=${edgeCertificate.certFile}`,
      `--key=${edgeCertificate.keyFile}`,
    ]);
    cluster.kubectlOk(['apply', '-f', DIST]);
    await cluster.waitUntilSettled(NS);
    await cluster.waitUntilSettled(stack.edgeNamespace);
    if (REAL) await provisionRealPlane();
  });

  it('secrets list: every Secret with its keys, no value', async () => {
    const { code, report } = await cliJson(['secrets', 'list']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    assert.equal(check(report, `${stack.edgeNamespace}/plane-edge-tls`).status, 'pass');
    assert.match(
      check(report, `${NS}/plane-admin`).detail,
      /^keys PLANE_API_KEY, PLANE_BASE_URL, PLANE_WORKSPACE_SLUG, password; created .*; managed-by plane-secrets$/,
    );
  });

  it('verify before any backup, and before the keep-data Job ran (kwok runs no container): every check passes but the guard, the backup and its drill, which fail with their fix; exit 1', async () => {
    const { code, report } = await cliJson(['verify']);
    assert.equal(code, 1);
    assert.deepEqual(
      failuresOf(report).map((f) => f.split(':')[0]),
      ['keep-data', 'backup', 'backup/drill'],
      failuresOf(report).join('\n'),
    );
    assert.equal(
      check(report, 'keep-data').detail,
      'ValidatingAdmissionPolicy plane-keep-data, ValidatingAdmissionPolicyBinding plane-keep-data missing: namespace plane and its volumes can be deleted',
    );
    assert.match(check(report, 'job/keep-data').detail, /^plane-keep-data-v1-2-2-[0-9a-f]+ complete/);
    // What the Job's pod does on a real node: its script, as its ServiceAccount.
    const guard = runKeepDataJob(cluster, NS, 'plane-keep-data');
    assert.equal(guard.code, 0, guard.stderr);
    assert.equal(check(report, 'backup').fix, 'plane-k3s backup now');
    assert.equal(check(report, 'backup/drill').detail, 'no restore drill has passed yet (schedule "30 4 * * 0": at most 192 h)');
    assert.equal(check(report, 'backup/drill').fix, 'plane-k3s backup drill (after plane-k3s backup now)');
    for (const w of stack.workloads) assert.equal(check(report, `workload/${w.name}`).status, 'pass');
    for (const job of ['migrator', 'secrets-bootstrap', 'provisioning']) assert.match(check(report, `job/${job}`).detail, /complete/);
    for (const s of stack.secrets) assert.equal(check(report, `secret/${s.name}`).status, 'pass');
    assert.match(check(report, 'api-env').detail, /variables set in plane-api-.*DATABASE_URL/);
    assert.equal(check(report, 'health/api').detail, 'GET / → 200 {"status": "OK"}');
    assert.match(
      check(report, 'health/edge').detail,
      new RegExp(`https://${stack.appHost}/ → 200 through ${stack.edgeNamespace}/plane-caddy-`),
    );
    assert.match(check(report, 'health/edge/api/instances').detail, / → 200 /);
    assert.match(
      check(report, 'health/edge/certificate').detail,
      new RegExp(`^certificate for ${stack.appHost} valid until \\S+ \\((89|90) days\\)$`),
    );
    assert.match(check(report, 'workspace').detail, /the admin and 10 agents are members \(2 Admin, 9 other\)/);
    for (const agent of stack.users.agents)
      assert.equal(
        check(report, `token/${agent.id}`).detail,
        `users/me → 200 as ${agent.email}; workspaces/${stack.users.workspace.slug}/projects/ → 200`,
      );
    // The stand-in database has no Plane tables (test/plane/agent-access.test.ts reads the real ones).
    assert.deepEqual(check(report, 'token-lifetime'), {
      id: 'token-lifetime',
      status: 'skip',
      detail: "Plane's table api_tokens is not in the database yet",
    });
    assert.match(check(report, 'signup').detail, /sign-up closed, workspace creation disabled, setup done, version v1\.2\.2/);
    // The advisories open for the running version: a warning, which does not fail verify.
    assert.equal(check(report, 'advisories').status, 'warn');
    assert.match(check(report, 'advisories').detail, /^Plane v1\.2\.2: \d+ open advisories .* the nearest release, v1\.2\.3, fixes/);
    for (const mitigation of ['signup-closed', 'magic-link-off', 'worker-egress-guard', 'vpn-only-edge'])
      assert.equal(check(report, `mitigation/${mitigation}`).status, 'pass', mitigation);
    assert.match(check(report, 'database').detail, /^logged in as plane to plane through plane\/plane-postgres-0:5432 \(\d+ tables\)$/);
    assert.match(check(report, 'logs/api').detail, /50 lines, no error or traceback/);
    assert.equal(check(report, 'network').status, 'skip');
  });

  /** Waits until the CronJob controller takes a manual run as the CronJob's last successful one. */
  const lastSuccessOf = async (name: string) => {
    for (let i = 0; i < 30; i += 1) {
      const cron = await cluster.batch.readNamespacedCronJob({ name, namespace: NS });
      if (cron.status?.lastSuccessfulTime) return cron.status.lastSuccessfulTime;
      await new Promise((r) => setTimeout(r, 1000));
    }
    return undefined;
  };

  it('backup now: a Job from the CronJob, its real log lines', async () => {
    const { code, report } = await cliJson(['backup', 'now']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    assert.match(
      check(report, 'backup/now').detail,
      /^job\/plane-backup-now-\d{14} complete: backup: dumped plane, \d+ bytes, \d+ entries, 1 tables; Plane v1\.2\.2, migration none; backup: made the encrypted repository .*; backup: snapshot [0-9a-f]{8}, Plane v1\.2\.2, migration none, \d+ bytes; 1 snapshots kept \(at most 3\)$/,
    );
    const job = (await cluster.batch.listNamespacedJob({ namespace: NS, labelSelector: 'app.kubernetes.io/name=backup' })).items[0];
    assert.equal(job.metadata?.ownerReferences?.[0]?.name, 'plane-backup', 'owned by the CronJob, as kubectl create job --from makes it');
    assert.ok(await lastSuccessOf('plane-backup'));
  });

  // One verify after both (the recorded Plane answers are replayed in order).
  it('backup drill: a Job from the drill CronJob, its real log lines, and then verify passes (exit 0)', async () => {
    const { code, report } = await cliJson(['backup', 'drill']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    assert.match(
      check(report, 'backup/drill').detail,
      /^job\/plane-backup-drill-now-\d{14} complete: drill: unpacked snapshot [0-9a-f]{8} .*; drill: snapshot [0-9a-f]{8} restored into a scratch server in \d+ s: Plane v1\.2\.2, migration none, 1 tables with the recorded row counts; drill: snapshot [0-9a-f]{8} passed, recorded in /,
    );
    assert.ok(await lastSuccessOf('plane-backup-drill'));
    const verify = await cliJson(['verify']);
    assert.equal(verify.code, 0, failuresOf(verify.report).join('\n'));
    assert.match(check(verify.report, 'backup').detail, /^last successful backup \d+ min ago/);
    assert.equal(
      check(verify.report, 'keep-data').detail,
      'ValidatingAdmissionPolicy plane-keep-data, ValidatingAdmissionPolicyBinding plane-keep-data present: deleting namespace plane or its claims is refused',
    );
    assert.match(
      check(verify.report, 'backup/drill').detail,
      /^last passing drill \d+ min ago \(\S+\) \(schedule "30 4 \* \* 0": at most 192 h\)$/,
    );
    assert.equal(verify.report.ok, true);
    assert.deepEqual(Object.keys(verify.report).sort(), ['checks', 'command', 'context', 'ok', 'summary']);
    assert.equal(verify.report.context, 'plane-test');
  });

  it('upgrade --rehearse: a fresh backup, a Job of the rehearsal template with its real log lines, then deleted; nothing else changed', async () => {
    const rehearsal = readRehearsalFixture();
    const images = async () =>
      (await cluster.apps.listNamespacedDeployment({ namespace: NS })).items.map((d) =>
        d.spec?.template.spec?.containers.map((c) => c.image),
      );
    const before = await images();
    const { code, report } = await cliJson(['upgrade', '--rehearse', rehearsal.target]);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    const id = /^job\/plane-backup-now-\d{14} complete: snapshot ([0-9a-f]{8})$/.exec(check(report, 'upgrade/backup').detail)?.[1];
    assert.ok(id, check(report, 'upgrade/backup').detail);
    const target = rehearsal.target.replace(/\./g, '\\.');
    assert.match(
      check(report, 'upgrade/rehearse').detail,
      new RegExp(
        `^rehearsal: unpacked snapshot ${id} \\(v1\\.2\\.2, dumped [^)]+\\); rehearsal: snapshot ${id} restored into a scratch server in \\d+ s: Plane v1\\.2\\.2, migration none, 1 tables with the recorded row counts; ` +
          `rehearsal: the copy ended at migration none; copy dropped \\(scratch server stopped, its files deleted\\); ` +
          `rehearsal: Plane ${target}: \\d+ migrations to apply[^;]*; rehearsal: Plane ${target} migrated the copy in \\d+ s: \\d+ migrations applied, none left; ` +
          `whole rehearsal \\d+ s; job\\/plane-backup-rehearsal-rehearse-\\d{14} deleted, production unchanged\\. ${target} fixes \\d+ of Plane v1\\.2\\.2's \\d+ open advisories$`,
      ),
    );
    let left = 1;
    for (let i = 0; i < 30 && left > 0; i++) {
      left = (await cluster.batch.listNamespacedJob({ namespace: NS, labelSelector: 'app.kubernetes.io/name=rehearsal' })).items.length;
      if (left > 0) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(left, 0, 'the rehearsal Job (and the copy in its pod) is gone');
    assert.deepEqual(await images(), before, "the Deployments' images are unchanged");
    const template = await cluster.batch.readNamespacedCronJob({ name: 'plane-backup-rehearsal', namespace: NS });
    assert.equal(template.spec?.suspend, true, 'the template stays suspended');
  });

  it('upgrade --rehearse refuses a release that is not later than the running one, before touching the cluster', async () => {
    const result = await cli(['upgrade', '--rehearse', 'v1.2.2']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^plane-k3s: --rehearse: the site runs Plane v1\.2\.2: a rehearsal migrates forward/);
  });

  it('verify in text: a line per check, the fix under a failure, a summary; progress on stderr', async () => {
    const result = await cli(['verify']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^PASS {2}workload\/plane-api +1\/1 available, plane-backend:v1\.2\.2$/m);
    assert.match(result.stdout, /^SKIP {2}network +not asked/m);
    assert.match(result.stdout, /^verify \(context plane-test\): \d+ passed, 1 warning, 0 failed, 2 skipped\n$/m);
    assert.match(result.stderr, /workloads available on the site's images/);
  });

  it('a workload on another image fails verify with both images; kubectl rollout undo brings it back', async () => {
    cluster.kubectlOk(['-n', NS, 'set', 'image', 'deployment/plane-web', 'plane-web=docker.io/makeplane/plane-frontend:v1.2.1']);
    await cluster.waitUntilSettled(NS);
    const { code, report } = await cliJson(['verify']);
    assert.equal(code, 1);
    assert.deepEqual(failuresOf(report), [
      'workload/plane-web: plane-web runs docker.io/makeplane/plane-frontend:v1.2.1, the site says docker.io/makeplane/plane-frontend:v1.2.2',
    ]);
    cluster.kubectlOk(['-n', NS, 'rollout', 'undo', 'deployment/plane-web']);
    await cluster.waitUntilSettled(NS);
    const after = await cliJson(['verify']);
    assert.equal(after.code, 0, failuresOf(after.report).join('\n'));
  });

  it('a worker error in the last 50 lines fails verify with the line, tokens masked', async () => {
    const worker = REAL ? logTail(process.env.PLANE_TEST_WORKER_LOG as string, 50) : (fixture as PlaneFixture).logs.worker;
    const withError = REAL ? workerErrorLines() : (fixture as PlaneFixture).logs.workerWithError;
    assert.ok(withError.length > 0, "a real worker error line (Received unregistered task, from Plane's default worker)");
    fs.writeFileSync(logFile('plane-worker'), criLog([...worker.slice(-10), ...withError]));
    try {
      const { code, report } = await cliJson(['verify']);
      assert.equal(code, 1);
      const logs = check(report, 'logs/worker');
      assert.equal(logs.status, 'fail');
      assert.match(logs.detail, /1 of 11 lines: .*Received unregistered task/);
      assert.doesNotMatch(logs.detail, /plane_api_[0-9a-f]{8}/, 'a token in a log line is masked');
      assert.match(logs.fix ?? '', /kubectl -n plane logs plane-worker-\S+ -c plane-worker --tail=50/);
    } finally {
      fs.writeFileSync(logFile('plane-worker'), criLog(worker));
    }
  });

  it("smoke: project VPAI, a work item assigned to builder read back with builder's token, cleaned up", async () => {
    const { code, report } = await cliJson(['smoke']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    assert.match(check(report, 'smoke/connect').detail, /builder is builder@agents\.javisi\.local/);
    assert.match(check(report, 'smoke/project').detail, /^VPAI created \(/);
    assert.match(check(report, 'smoke/member').detail, /builder added as Member/);
    assert.match(check(report, 'smoke/work-item').detail, /^VPAI-1 created, assigned to builder$/);
    assert.match(check(report, 'smoke/read-back').detail, /^VPAI-1 read by builder \(200\), assigned to it$/);
    assert.equal(check(report, 'smoke/cleanup').detail, 'deleted VPAI-1; project VPAI kept for the next run');
  });

  it('smoke for an agent the site does not have: fails at once, the other steps skipped, exit 1', async () => {
    const { code, report } = await cliJson(['smoke', '--assignee', 'c3po']);
    assert.equal(code, 1);
    assert.match(check(report, 'smoke/connect').detail, /^no agent "c3po" in the site \(agents: .*builder/);
    assert.deepEqual(
      report.checks
        .slice(1)
        .map((c) => [c.status, c.detail])
        .slice(0, 4),
      [
        ['skip', 'not run: connect failed'],
        ['skip', 'not run: connect failed'],
        ['skip', 'not run: connect failed'],
        ['skip', 'not run: connect failed'],
      ],
    );
  });

  it("smoke is idempotent: project VPAI is reused, and only the run's own work item is deleted", async () => {
    const kept = await cliJson(['smoke', '--keep']);
    assert.equal(kept.code, 0, failuresOf(kept.report).join('\n'));
    assert.match(check(kept.report, 'smoke/project').detail, /^VPAI exists \(.*\), reused$/);
    assert.match(check(kept.report, 'smoke/cleanup').detail, /^kept VPAI-\d+$/);
    const again = await cliJson(['smoke']);
    assert.equal(again.code, 0, failuresOf(again.report).join('\n'));
    assert.match(check(again.report, 'smoke/project').detail, /^VPAI exists \(.*\), reused$/);
    assert.equal(check(again.report, 'smoke/member').detail, 'builder already a member');
    assert.match(check(again.report, 'smoke/cleanup').detail, /^deleted VPAI-\d+; project VPAI kept for the next run$/);
    // Leave Plane as found: the kept project goes, through the api as the admin's client would.
    const admin = tokens.get('admin') as string;
    const request = (method: string, urlPath: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: plane.port, method, path: urlPath, headers: { host: stack.appHost, 'x-api-key': admin } },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => {
              body += d;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const ws = `/api/v1/workspaces/${stack.users.workspace.slug}`;
    const projects = JSON.parse((await request('GET', `${ws}/projects/?per_page=100`)).body).results as {
      id: string;
      identifier: string;
    }[];
    const vpai = projects.find((p) => p.identifier === 'VPAI');
    assert.ok(vpai);
    // The worker's activity tasks for the work items just deleted must find their project (else Plane logs an ERROR).
    if (REAL) await new Promise((resolve) => setTimeout(resolve, 10_000));
    assert.equal((await request('DELETE', `${ws}/projects/${vpai.id}/`)).status, 204);
  });

  it('verify from this machine: --from-vpn and --from-outside check the app host itself (unreachable here: fail with the evidence)', async () => {
    const vpn = await cliJson(['verify', '--from-vpn']);
    assert.equal(vpn.code, 1);
    assert.deepEqual(
      failuresOf(vpn.report).map((f) => f.split(':')[0]),
      ['network/vpn', 'network/split-dns'],
    );
    assert.match(check(vpn.report, 'network/vpn').detail, new RegExp(`^https://${stack.appHost}/ → .*, expected 200$`));
    assert.equal(check(vpn.report, 'network/split-dns').detail, `${stack.appHost} → no answer, expected ${stack.site.edge.vpnAddress}`);
    const outside = await cliJson(['verify', '--from-outside']);
    assert.equal(outside.code, 1);
    assert.match(check(outside.report, 'network/outside').detail, /, expected 403$/);
    const both = await cli(['verify', '--from-vpn', '--from-outside']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /cannot be used with/);
  });

  it("secrets connection: the agent's connection in a 0600 file, never on screen; an existing file is kept", async () => {
    const file = path.join(work, 'builder.env');
    const { code, report } = await cliJson(['secrets', 'connection', 'builder', '--output', file]);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(
      fs.readFileSync(file, 'utf8'),
      `PLANE_API_KEY=${tokens.get('agent:builder')}\nPLANE_BASE_URL=${stack.appUrl}\nPLANE_WORKSPACE_SLUG=${stack.users.workspace.slug}\n`,
    );
    const again = await cli(['secrets', 'connection', 'builder', '--output', file]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; add --force to replace it/);
    const nobody = await cli(['secrets', 'connection', 'c3po', '--output', path.join(work, 'x.env')]);
    assert.equal(nobody.code, 2);
    assert.match(nobody.stderr, /"c3po" is neither admin nor an agent of the site/);
  });

  it('secrets rotate: asks first, refuses the keys the runbook rotates by hand, and a new agent token reaches Plane through provisioning', async () => {
    const dry = await cli(['secrets', 'rotate', 'plane-agent-builder']);
    assert.equal(dry.code, 2);
    assert.match(
      dry.stderr,
      /would replace plane-agent-builder PLANE_API_KEY, then the provisioning Job runs again; the old token keeps working 24 h after provisioning has run .* Add --yes to do it/,
    );
    const app = await cli(['secrets', 'rotate', 'plane-app', '--key', 'secret-key', '--yes']);
    assert.equal(app.code, 2);
    assert.match(app.stderr, /Django's SECRET_KEY: it encrypts Plane's instance settings .* add --accept-settings-loss/);
    const data = await cli(['secrets', 'rotate', 'plane-postgres', '--yes']);
    assert.equal(data.code, 2);
    assert.match(data.stderr, /the server holds this value too and must change first; follow docs\/runbook\.md "Rotating a Secret"/);

    const { code, report } = await cliJson(['secrets', 'rotate', 'plane-agent-builder', '--yes']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    assert.match(check(report, 'rotate/provisioning').detail, /^job\/plane-provisioning-v1-2-2-[0-9a-f]+-rotate-\d{14} complete/);
    const rotated = Buffer.from(
      (await cluster.core.readNamespacedSecret({ name: 'plane-agent-builder', namespace: NS })).data?.PLANE_API_KEY ?? '',
      'base64',
    ).toString();
    assert.match(rotated, /^plane_api_[0-9a-f]{32}$/);
    assert.notEqual(rotated, tokens.get('agent:builder'));
    secretValues.push(rotated);
    tokens.set('agent:builder', rotated);
    // kwok runs no container: until provisioning really runs, Plane does not know the new token.
    const before = await cliJson(['verify']);
    assert.equal(before.code, 1);
    assert.deepEqual(failuresOf(before.report), [
      "token/builder: users/me → 403 (Plane's answer to an unknown, inactive or expired token)",
    ]);
    if (REAL) await provisionRealPlane();
    const after = await cliJson(['verify']);
    assert.equal(after.code, 0, failuresOf(after.report).join('\n'));
  });

  it('secrets rotate plane-app --key live-server-secret-key: a new value, and the one Deployment that reads it (live) restarted', async () => {
    const read = async () =>
      Buffer.from(
        (await cluster.core.readNamespacedSecret({ name: 'plane-app', namespace: NS })).data?.['live-server-secret-key'] ?? '',
        'base64',
      ).toString();
    const before = await read();
    const { code, report } = await cliJson(['secrets', 'rotate', 'plane-app', '--key', 'live-server-secret-key', '--yes']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    const now = await read();
    assert.match(now, /^[0-9a-f]{64}$/);
    assert.notEqual(now, before);
    secretValues.push(now);
    const restarted = report.checks
      .filter((c) => c.id.startsWith('rotate/restart/'))
      .map((c) => c.id.replace('rotate/restart/', ''))
      .sort();
    assert.deepEqual(restarted, ['plane-live']);
    for (const name of restarted) {
      const deployment = await cluster.apps.readNamespacedDeployment({ name, namespace: NS });
      assert.ok(deployment.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'], `${name} restarted`);
    }
    await cluster.waitUntilSettled(NS);
  });

  it("backup list: each backup with its version, migration and drill, from the restore template's list mode, and the list Job removed", async () => {
    const { code, report } = await cliJson(['backup', 'list']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    const listed = report.checks.filter((c: { id: string }) => /^backup\/[0-9a-f]{8}$/.test(c.id));
    assert.equal(listed.length, 1, JSON.stringify(report.checks));
    assert.match(
      listed[0].detail,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, \d+ bytes, Plane v1\.2\.2, migration none, drill passed \d{4}-\d\d-\d\dT/,
    );
    const jobs = (await cluster.batch.listNamespacedJob({ namespace: NS, labelSelector: 'app.kubernetes.io/name=restore' })).items;
    assert.ok(
      jobs.every((j) => j.metadata?.deletionTimestamp),
      'no list Job left behind',
    );
  });

  it('restore: stops the database clients, restores, starts them again', async () => {
    fs.writeFileSync(logFile('unpack'), fs.readFileSync(logFile('unpack-run')));
    const refused = await cli(['restore', 'latest']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /add --yes/);
    const { code, report } = await cliJson(['restore', 'latest', '--yes']);
    assert.equal(code, 0, failuresOf(report).join('\n'));
    assert.match(check(report, 'restore/stop').detail, /Deployments scaled to 0, their pods gone/);
    assert.match(
      check(report, 'restore/run').detail,
      /complete: restore: unpacked snapshot [0-9a-f]{8} .*; restore: snapshot [0-9a-f]{8} restored into plane: Plane v1\.2\.2, migration none, 1 tables with the recorded row counts$/,
    );
    const job = (await cluster.batch.listNamespacedJob({ namespace: NS, labelSelector: 'app.kubernetes.io/name=restore' })).items.find(
      (j) => !j.metadata?.deletionTimestamp,
    );
    assert.equal(job?.spec?.template.spec?.initContainers?.[0].env?.find((e) => e.name === 'RESTORE_BACKUP')?.value, 'latest');
    await cluster.waitUntilSettled(NS);
    const verify = await cliJson(['verify']);
    assert.equal(verify.code, 0, failuresOf(verify.report).join('\n'));
  });

  it('could-not-run cases are one line and exit 2: a bad site file, a missing kubeconfig', async () => {
    const badSite = path.join(work, 'bad.yaml');
    fs.writeFileSync(
      badSite,
      fs.readFileSync(path.join(REPO_ROOT, 'site', 'javisi.yaml'), 'utf8').replace(/^(\s*)namespace: plane$/m, '$1namespce: plane'),
    );
    const site = await cli(['--site', badSite, 'verify']);
    assert.equal(site.code, 2);
    assert.match(site.stderr, /^plane-k3s: .*namespce.*\n$/);
    const noConfig = await runProcess(process.execPath, [BIN, '--kubeconfig', path.join(work, 'none'), 'verify'], process.env);
    outputs.push(noConfig.stdout, noConfig.stderr);
    assert.equal(noConfig.code, 2);
    assert.equal(noConfig.stderr.split('\n').filter(Boolean).length, 1, noConfig.stderr);
  });

  it('no secret value in any output of the CLI', () => {
    assert.ok(outputs.length > 20);
    for (const value of secretValues) {
      for (const output of outputs) assert.ok(!output.includes(value), 'a secret value was printed');
    }
    for (const output of outputs) assert.doesNotMatch(output, /plane_api_[0-9a-f]{32}/);
  });

  it('Plane was asked only what was recorded (replay) and nothing recorded holds a token', () => {
    const exchanges: Exchange[] = plane.exchanges;
    assert.ok(exchanges.length > 30, `${exchanges.length} exchanges`);
    for (const e of exchanges) assert.doesNotMatch(e.body, /plane_api_[0-9a-f]{32}/);
    if (!REAL)
      assert.equal(
        outputs.some((o) => o.includes('not recorded')),
        false,
        'a call that was never recorded',
      );
  });
});
