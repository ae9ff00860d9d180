/**
 * The operator's CLI without a cluster: what it plans from the site (Secrets to load, rotations), how it
 * reports, names its Jobs and writes files, and how it refuses bad input (exit 2, one line). Its work
 * on a cluster and with Plane is tested in test/cluster/ops.test.ts.
 */
import { Chart } from 'cdk8s';
import { buildStack } from '../main';
import { AppDeployment } from '../lib/constructs/app-deployment';
import { agentApiKey } from '../lib/plane/connection-secrets';
import { workloadLabels } from '../lib/site';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as tls from 'node:tls';
import { jobFromCronJob, rerunOfJob, runName } from '../ops/jobs';
import { OVERLAP_OVERRIDE_VARIABLE } from '../lib/plane/provisioning';
import { fail, makeReport, pass, Redactor, renderReport, runSteps, skip, Skipped, warn } from '../ops/report';
import { envVariable, generateValue, planLoad, planRotation, writePrivateFile } from '../ops/secrets';
import { providedSecrets, Stack } from '../ops/stack';
import { judgeApiEnv, judgeCertificate, logEvidence, schedulePeriodMs } from '../ops/verify';
import { makeCertificate } from './edge/harness';
import { GENERATED_FORMATS, REPO_ROOT, siteWith, synth } from './helpers';

const stack = new Stack(siteWith());
const BIN = path.join(REPO_ROOT, 'scripts', 'plane-k3s.mjs');

/** A whole env file for the stack, values in the bootstrap's formats. */
function envFile(override: Record<string, string> = {}): string {
  const lines: Record<string, string> = {};
  for (const secret of stack.secrets) {
    for (const [key, making] of Object.entries(secret.keys)) {
      if ('generate' in making) lines[envVariable(secret.name, key)] = generateValue(making.generate);
    }
  }
  return Object.entries({ ...lines, ...override })
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'plane-ops-unit-'));
}

/** The CLI with a kubeconfig that names a server nobody listens on: nothing here may reach a cluster. */
function cli(args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const dir = tempDir();
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
  );
  const result = spawnSync(process.execPath, [BIN, '--kubeconfig', kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, SITE_CONFIG: '' },
    timeout: 60_000,
  });
  fs.rmSync(dir, { recursive: true, force: true });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe('what the CLI reads from the site', () => {
  it('expects the Secrets, workloads and users of the synthesized manifests', () => {
    assert.deepEqual(
      stack.secretNames,
      [
        'plane-admin',
        ...stack.users.agents.map((a) => `plane-agent-${a.id}`).sort(),
        'plane-app',
        'plane-backup-key',
        'plane-object-store',
        'plane-postgres',
        'plane-rabbitmq',
        'plane-redis',
      ].sort(),
    );
    assert.ok(stack.workloads.some((w) => w.name === 'plane-api' && w.images['plane-api'] === 'docker.io/makeplane/plane-backend:v1.2.2'));
    assert.equal(stack.users.agents.length, 10);
    assert.equal(stack.apiService.name, 'plane-api');
    assert.equal(stack.namespaceFile, '0000-namespace.k8s.yaml');
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist', stack.namespaceFile)));
  });

  it('knows the Secrets the operator provides: the edge certificate', () => {
    assert.deepEqual(providedSecrets(stack), [{ namespace: 'plane-edge', name: 'plane-edge-tls', keys: [] }]);
  });
});

describe('secrets load: the env file', () => {
  it('makes a rotated value in the very format the bootstrap Job makes it, for every format the stack uses', () => {
    const formats = new Set(stack.secrets.flatMap((sec) => Object.values(sec.keys)).flatMap((m) => ('generate' in m ? [m.generate] : [])));
    assert.deepEqual([...formats].sort(), Object.keys(GENERATED_FORMATS).sort());
    for (const format of formats) assert.match(generateValue(format), GENERATED_FORMATS[format], format);
    assert.notEqual(generateValue('hex32'), generateValue('hex32'));
  });

  it('maps every key of every Secret to its own variable', () => {
    const variables = stack.secrets.flatMap((s) => Object.keys(s.keys).map((k) => envVariable(s.name, k)));
    assert.equal(new Set(variables).size, variables.length);
    assert.equal(envVariable('plane-app', 'live-server-secret-key'), 'PLANE_APP__LIVE_SERVER_SECRET_KEY');
    assert.equal(envVariable('plane-agent-builder', 'PLANE_API_KEY'), 'PLANE_AGENT_BUILDER__PLANE_API_KEY');
  });

  it('plans every Secret of a whole file, the values from the site filled in', () => {
    const plan = planLoad(stack, `# comment\nexport ${envFile()}\n`, 'vault.env');
    assert.equal(plan.size, stack.secrets.length);
    const builder = [...plan.entries()].find(([s]) => s.name === 'plane-agent-builder')?.[1];
    assert.equal(builder?.PLANE_BASE_URL, 'https://work.ewutelo.cloud');
    assert.equal(builder?.PLANE_WORKSPACE_SLUG, 'javisi');
    assert.match(builder?.PLANE_API_KEY ?? '', /^plane_api_[0-9a-f]{32}$/);
  });

  it('accepts a subset of whole Secrets (the rest is left to the bootstrap Job)', () => {
    const plan = planLoad(stack, 'PLANE_POSTGRES__PASSWORD=the-seeds-shared-vault-password\n', 'vault.env');
    assert.deepEqual(
      [...plan.keys()].map((s) => s.name),
      ['plane-postgres'],
    );
  });

  const refused: [string, string, RegExp][] = [
    [
      'a typo',
      'PLANE_POSTGRES__PASWORD=0123456789abcdef',
      /PLANE_POSTGRES__PASWORD is not a key of the stack's Secrets; that Secret's are PLANE_POSTGRES__PASSWORD$/,
    ],
    ['an unknown Secret', 'PLANE_MINIO__KEY=x', /PLANE_MINIO__KEY is not a key .*secrets variables lists them/],
    [
      'a value the site writes',
      'PLANE_ADMIN__PLANE_BASE_URL=https://x',
      /PLANE_ADMIN__PLANE_BASE_URL is written from the site file, not loaded; remove it/,
    ],
    [
      'a password that breaks a URL',
      'PLANE_REDIS__PASSWORD=abc@def:ghi/jkl#mno',
      /PLANE_REDIS__PASSWORD must be at least 16 characters of A-Z a-z 0-9 \. _ ~ -/,
    ],
    ['a short password', 'PLANE_REDIS__PASSWORD=short', /PLANE_REDIS__PASSWORD must be at least 16/],
    ["a token not in Plane's format", 'PLANE_AGENT_BUILDER__PLANE_API_KEY=Bearer-abc', /must be plane_api_ and 32 lowercase hex/],
    ['a Garage key id of another shape', `PLANE_OBJECT_STORE__ACCESS_KEY_ID=AKIA${'0'.repeat(16)}`, /must be GK and 24 lowercase hex/],
    [
      'half a Secret',
      'PLANE_ADMIN__PASSWORD=0123456789abcdef0123',
      /plane-admin needs all its keys or none; missing PLANE_ADMIN__PLANE_API_KEY$/,
    ],
    ['an empty file', '# nothing\n', /no variable of the stack's Secrets/],
  ];
  for (const [what, content, message] of refused) {
    it(`refuses ${what} in one line that names the variable, never the value`, () => {
      assert.throws(
        () => planLoad(stack, content, 'vault.env'),
        (error: Error) => {
          assert.match(error.message, message);
          assert.doesNotMatch(error.message, /\n/);
          const value = content.split('=')[1];
          if (value && value.length > 6) assert.ok(!error.message.includes(value), 'the value is not in the message');
          return true;
        },
      );
    });
  }
});

describe('secrets load: a hostile or broken env file', () => {
  // Values in the formats the stack takes, fresh each run: none may show in a message.
  const token = generateValue('plane-api-token');
  const other = generateValue('plane-api-token');
  const password = generateValue('hex24');
  const values = [token, other, password];
  const builder = 'PLANE_AGENT_BUILDER__PLANE_API_KEY';

  /** The message planLoad refuses the content with, checked first to hold no value (so a failure shows none either). */
  function refusal(content: string, secrets: string[] = values): string {
    let message: string | undefined;
    try {
      planLoad(stack, content, 'vault.env');
    } catch (error) {
      message = (error as Error).message;
    }
    assert.ok(message !== undefined, 'refused');
    for (const secret of secrets) assert.ok(!message.includes(secret.slice(-12)), 'no part of a value in the message');
    assert.ok(!message.includes('\n'), 'one line');
    return message;
  }

  const refused: [string, string, RegExp][] = [
    ['a line without = (a value pasted alone)', `${token}\n${builder}=${other}\n`, /^vault\.env: line 1: not NAME=value$/],
    ['a name that is not a variable name', `PLANE REDIS PASSWORD=${password}\n`, /^vault\.env: line 1: not NAME=value$/],
    [
      'a lower-case name (a token where the name goes)',
      `${token}=${other}\n`,
      /^vault\.env: line 1: not NAME=value \(names are upper case/,
    ],
    ['a name longer than any variable', `PLANE_${'X'.repeat(80)}=${password}\n`, /^vault\.env: line 1: a name longer than 64 characters$/],
    [
      'a variable given twice',
      `${builder}=${token}\n# again\n${builder}=${other}\n`,
      /^vault\.env: line 3: PLANE_AGENT_BUILDER__PLANE_API_KEY again \(first on line 1\)$/,
    ],
    [
      'a value over 4096 bytes',
      `${builder}=${randomBytes(2100).toString('hex')}${token}\n`,
      /^vault\.env: line 1: a value over 4096 bytes$/,
    ],
    ['a NUL in a value', `${builder}=${token}\0${other}\n`, /^vault\.env: line 1: a control character$/],
    ['an escape sequence in a value', `${builder}=\x1b[2J${token}\n`, /^vault\.env: line 1: a control character$/],
    ['a carriage return inside a line', `${builder}=${token}\r${other}\n`, /^vault\.env: line 1: a control character$/],
    [
      'a quoted value over two lines',
      `${builder}="${token}\n${other}"\n`,
      /^vault\.env: line 1: a quoted value must end with the same quote, on its line \(no escapes, nothing after it\); line 2: not NAME=value$/,
    ],
    [
      'text after the closing quote',
      `${builder}='${token}' ${other}\n`,
      /^vault\.env: line 1: a quoted value must end with the same quote/,
    ],
    ['an unquoted value with a space', `${builder}=${token} ${other}\n`, /^vault\.env: line 1: a value with spaces must be quoted/],
    [
      'every broken line at once, by line number',
      `${token}\n\n${builder}="${other}\nPLANE_REDIS__PASSWORD=${password}\0\n`,
      /^vault\.env: line 1: not NAME=value; line 3: a quoted value must end .*; line 4: a control character$/,
    ],
    ['a file over 1 MiB', `# ${'x'.repeat(1 << 20)}\n${builder}=${token}\n`, /^vault\.env: larger than 1 MiB: not an env file of Secrets$/],
  ];
  for (const [what, content, message] of refused) {
    it(`refuses ${what}, by line number, echoing no value`, () => {
      assert.match(refusal(content), message);
    });
  }

  it('names the line of a variable it refuses for its name or its value', () => {
    assert.match(refusal(`# vault\nPLANE_REDIS__PASWORD=${password}\n`), /^vault\.env: line 2: PLANE_REDIS__PASWORD is not a key/);
    assert.match(refusal(`\n\n${builder}=${password}\n`), /^vault\.env: line 3: PLANE_AGENT_BUILDER__PLANE_API_KEY must be plane_api_/);
  });

  it('takes CRLF line ends, quotes around a whole value, export and indentation; the values are exact', () => {
    const content = `# from Windows\r\nexport ${builder}='${token}'\r\n  PLANE_AGENT_WRITER__PLANE_API_KEY = "${other}"\r\n\r\nPLANE_REDIS__PASSWORD=${password}\r\n`;
    const plan = planLoad(stack, content, 'vault.env');
    const of = (name: string) => [...plan.entries()].find(([s]) => s.name === name)?.[1];
    assert.ok(of('plane-agent-builder')?.PLANE_API_KEY === token, 'the single-quoted token, exact');
    assert.ok(of('plane-agent-writer')?.PLANE_API_KEY === other, 'the double-quoted token, exact');
    assert.ok(of('plane-redis')?.password === password, 'the password without its CR');
  });

  it('on the command line: exit 2, one line naming the line, no part of the token on stderr', () => {
    const result = cli(['secrets', 'load', '-'], `${token}\n${builder}=${other}\n`);
    for (const secret of values) assert.ok(!(result.stderr + result.stdout).includes(secret.slice(-12)), 'no part of a value shown');
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'plane-k3s: stdin: line 1: not NAME=value\n');
    assert.equal(result.stdout, '');
  });
});

describe('secrets rotate: what each rotation means', () => {
  const options = { acceptSettingsLoss: false, timeoutMs: 1000 };
  it('an agent token: provisioning writes it into Plane; no Deployment of the stack reads it', () => {
    const rotation = planRotation(stack, { ...options, secret: 'plane-agent-builder' });
    assert.equal(rotation.key, 'PLANE_API_KEY');
    assert.deepEqual(
      rotation.rerun.map((w) => w.name),
      [stack.workload('Job', 'provisioning').name],
    );
    assert.deepEqual(rotation.restart, []);
    assert.deepEqual(rotation.rerunEnv, {}, 'the site overlap applies');
    assert.match(
      rotation.consequence,
      /^the old token keeps working 24 h after provisioning has run \(users\.tokens\.overlapHours; --revoke-old/,
    );
  });
  it('--revoke-old: the provisioning re-run stops the old token at once; refused for anything but a token', () => {
    const rotation = planRotation(stack, { ...options, secret: 'plane-agent-builder', revokeOld: true });
    assert.deepEqual(rotation.rerunEnv, { [OVERLAP_OVERRIDE_VARIABLE]: '0' });
    assert.match(rotation.consequence, /^the old token stops working as soon as provisioning has run/);
    const job = stack.workload('Job', 'provisioning');
    const rerun = rerunOfJob(
      {
        metadata: { name: job.name, namespace: 'plane' },
        spec: { template: { spec: { containers: [{ name: job.container, env: [] }] } } },
      },
      'rerun',
      rotation.rerunEnv,
    );
    assert.deepEqual(rerun.spec?.template.spec?.containers[0].env, [{ name: OVERLAP_OVERRIDE_VARIABLE, value: '0' }]);
    assert.throws(
      () => planRotation(stack, { ...options, secret: 'plane-app', key: 'live-server-secret-key', revokeOld: true }),
      /^Error: --revoke-old: only for an API token/,
    );
  });
  it('every reader is known by construction: a Deployment that reads an agent token is restarted by its rotation', () => {
    // An agent runtime in the namespace, e.g. an MCP server, reading builder's token from its Secret.
    const withRunner = new Stack(siteWith(), (app, site) => {
      const chart = new Chart(app, 'agent-runner');
      new AppDeployment(chart, 'runner', {
        namespace: site.kubernetes.namespace,
        name: 'plane-agent-runner',
        labels: workloadLabels(site, 'agent-runner', 'backend', 'v1'),
        image: 'registry.example/runner:1.0@sha256:' + 'a'.repeat(64),
        runAs: { user: 1000, group: 1000 },
        resources: {},
        secretEnv: { PLANE_API_KEY: agentApiKey('builder') },
        calls: [{ to: { name: 'agents-llm', cidrs: ['192.0.2.10/32'] }, ports: [{ port: 443 }] }],
      });
      return buildStack(app, site);
    });
    const rotation = planRotation(withRunner, { ...options, secret: 'plane-agent-builder' });
    assert.deepEqual(rotation.restart, ['plane-agent-runner']);
    assert.deepEqual(
      rotation.rerun.map((w) => w.component),
      ['provisioning'],
    );
    assert.deepEqual(planRotation(withRunner, { ...options, secret: 'plane-agent-writer' }).restart, [], 'only the Secret it reads');
  });
  it('plane-app: a key must be named; the live key restarts its readers; SECRET_KEY needs the settings loss accepted', () => {
    assert.throws(
      () => planRotation(stack, { ...options, secret: 'plane-app' }),
      /--key: plane-app has the generated keys live-server-secret-key, secret-key; name one with --key/,
    );
    const live = planRotation(stack, { ...options, secret: 'plane-app', key: 'live-server-secret-key' });
    // Only live reads that key (the backend reads the other key of the same Secret).
    assert.deepEqual(live.restart, ['plane-live']);
    assert.deepEqual(live.rerun, []);
    assert.deepEqual(planRotation(stack, { ...options, secret: 'plane-app', key: 'secret-key', acceptSettingsLoss: true }).restart.sort(), [
      'plane-api',
      'plane-beat-worker',
      'plane-worker',
    ]);
    assert.throws(
      () => planRotation(stack, { ...options, secret: 'plane-app', key: 'secret-key' }),
      /encrypts Plane's instance settings .* --accept-settings-loss/,
    );
    assert.match(
      planRotation(stack, { ...options, secret: 'plane-app', key: 'secret-key', acceptSettingsLoss: true }).consequence,
      /signed out/,
    );
  });
  it('refuses what must change in a server first, the initial password, and unknown Secrets', () => {
    for (const secret of ['plane-postgres', 'plane-redis', 'plane-rabbitmq']) {
      assert.throws(
        () => planRotation(stack, { ...options, secret }),
        /the server holds this value too and must change first; follow docs\/runbook\.md "Rotating a Secret"/,
      );
    }
    assert.throws(() => planRotation(stack, { ...options, secret: 'plane-admin', key: 'password' }), /changes it in Plane's profile/);
    assert.throws(() => planRotation(stack, { ...options, secret: 'plane-minio' }), /plane-minio is not one of the stack's Secrets/);
  });
});

describe('reports', () => {
  it('masks every value it was told about and anything shaped like a Plane token; short values are left alone', () => {
    const redactor = new Redactor();
    redactor.add('0123456789abcdef0123');
    redactor.add('plane');
    assert.equal(
      redactor.apply('pw 0123456789abcdef0123 in plane, token plane_api_0123456789abcdef0123456789abcdef'),
      'pw <secret> in plane, token plane_api_<secret>',
    );
  });

  it('counts, is not ok with a failure, shows the fix under it, and redacts details and fixes', () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t-value-1234');
    const report = makeReport(
      'verify',
      'ctx',
      [pass('a', 'fine'), fail('b', 'saw s3cr3t-value-1234', 'do x'), skip('c', 'not asked')],
      redactor,
    );
    assert.deepEqual(report.summary, { pass: 1, warn: 0, fail: 1, skip: 1 });
    assert.equal(report.ok, false);
    assert.equal(report.checks[1].detail, 'saw <secret>');
    const text = renderReport(report);
    assert.match(
      text,
      /^PASS {2}a {11}fine\nFAIL {2}b {11}saw <secret>\n {18}fix: do x\nSKIP {2}c {11}not asked\nverify \(context ctx\): 1 passed, 1 failed, 1 skipped\n$/,
    );
    assert.equal(makeReport('verify', 'ctx', [pass('a', 'fine')], redactor).ok, true);
  });

  it('a warning is shown with its fix and counted, and does not fail the report', () => {
    const report = makeReport('verify', 'ctx', [pass('a', 'fine'), warn('b', 'expires in 9 days', 'rotate it')], new Redactor());
    assert.equal(report.ok, true);
    assert.deepEqual(report.summary, { pass: 1, warn: 1, fail: 0, skip: 0 });
    assert.match(
      renderReport(report),
      /^WARN {2}b {11}expires in 9 days\n {18}fix: rotate it\nverify \(context ctx\): 1 passed, 1 warning, 0 failed, 0 skipped\n$/m,
    );
  });

  it('turns a step that throws into a failure, and one that cannot run after it into a skip', async () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t-value-1234');
    const results = await runSteps(
      [
        {
          id: 'one',
          title: 'one',
          fix: 'do y',
          run: async () => {
            throw new Error('broke on s3cr3t-value-1234\nsecond line');
          },
        },
        {
          id: 'two',
          title: 'two',
          run: async () => {
            throw new Skipped('not run: one failed');
          },
        },
        {
          id: 'three',
          title: 'three',
          run: async (progress) => {
            progress('half way');
            return [pass('three', 'fine')];
          },
        },
      ],
      { json: true },
      redactor,
    );
    assert.deepEqual(results, [
      { id: 'one', status: 'fail', detail: 'broke on <secret>', fix: 'do y' },
      { id: 'two', status: 'skip', detail: 'not run: one failed' },
      { id: 'three', status: 'pass', detail: 'fine' },
    ]);
  });

  it('finds a declared variable the api pod lacks', () => {
    const names = stack.declaredEnv('api');
    assert.ok(names.includes('DATABASE_URL') && names.includes('SECRET_KEY') && names.length > 20, names.join(' '));
    const restart = 'kubectl -n plane rollout restart deployment/plane-api';
    assert.equal(judgeApiEnv(names, `${names.join('\n')}\n`, 'plane-api-1', restart).status, 'pass');
    const lacking = judgeApiEnv(names, names.filter((n) => n !== 'SECRET_KEY').join('\n'), 'plane-api-1', restart);
    assert.deepEqual(
      [lacking.status, lacking.detail, lacking.fix],
      ['fail', 'plane-api-1 lacks SECRET_KEY', `the pod predates its config: ${restart}`],
    );
    assert.equal(judgeApiEnv(names, '', 'plane-api-1', restart).detail, `plane-api-1 lacks ${names.join(', ')}`);
  });

  it("shows a log line as evidence: Plane's JSON by level, logger and message; other lines cut", () => {
    const line = JSON.stringify({
      levelname: 'ERROR',
      name: 'celery.worker.consumer.consumer',
      message: 'Received unregistered task of type x.\nThe message has been ignored',
    });
    assert.equal(logEvidence(line), 'ERROR celery.worker.consumer.consumer: Received unregistered task of type x.');
    assert.equal(logEvidence(`Traceback (most recent call last): ${'x'.repeat(300)}`).length, 200);
  });
});

describe('the edge certificate verify judges', () => {
  /** A certificate made by openssl, in the shape Node's TLS socket reports it. */
  function peerCertificate(host: string, days: number): tls.PeerCertificate {
    const dir = tempDir();
    try {
      const x509 = new X509Certificate(fs.readFileSync(makeCertificate(dir, host, days).certFile));
      return { valid_to: x509.validTo, subjectaltname: x509.subjectAltName, subject: { CN: host } } as tls.PeerCertificate;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const host = 'work.ewutelo.cloud';

  it('passes one for the app host with time left, fails one for another host or none', () => {
    assert.match(
      judgeCertificate(peerCertificate(host, 90), host, 14).detail,
      /^certificate for work\.ewutelo\.cloud valid until .* \((89|90) days\)$/,
    );
    assert.equal(judgeCertificate(peerCertificate(host, 90), host, 14).ok, true);
    const other = judgeCertificate(peerCertificate('other.example', 90), host, 14);
    assert.deepEqual([other.ok, other.detail], [false, 'certificate not for work.ewutelo.cloud (DNS:other.example)']);
    assert.deepEqual(judgeCertificate(undefined, host, 14), { ok: false, detail: 'no certificate presented' });
  });

  it('wants 14 days left on one the operator renews, none on one Caddy renews; an expired one always fails', () => {
    const short = peerCertificate(host, 2);
    assert.match(judgeCertificate(short, host, 14).detail, /\(1 days\), renew it within 1 days$/);
    assert.equal(judgeCertificate(short, host, 14).ok, false);
    assert.equal(judgeCertificate(short, host, 0).ok, true);
    const later = new Date(Date.now() + 3 * 86_400_000);
    assert.match(judgeCertificate(short, host, 0, later).detail, /^certificate for work\.ewutelo\.cloud expired /);
  });
});

describe('Jobs the CLI makes', () => {
  it('names a run after its template, within the 63 characters of a label value', () => {
    const at = new Date('2026-11-30T14:05:09Z');
    assert.equal(runName('plane-backup', 'now', at), 'plane-backup-now-20261130140509');
    // The base is cut (and a dash it would end with dropped) so that the run's suffix always fits.
    const long = runName('plane-provisioning-v1-2-2-338826c5-and-a-much-longer-tail', 'rotate', at);
    assert.equal(long, 'plane-provisioning-v1-2-2-338826c5-and-a-rotate-20261130140509');
    assert.equal(runName(`${'x'.repeat(40)}-tail`, 'rotate', at), `${'x'.repeat(40)}-rotate-20261130140509`);
  });

  const cron = synth().find((m) => m.kind === 'CronJob' && m.metadata.name === 'plane-backup-restore') as any;
  it('makes a Job from a CronJob as kubectl create job --from does, the variable set as kubectl set env does', () => {
    const live = { ...cron, metadata: { ...cron.metadata, uid: 'u-1' } };
    const job = jobFromCronJob(live, 'plane-backup-restore-run-1', { RESTORE_BACKUP: '4f2a9c1e' });
    assert.deepEqual(
      job.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid]),
      [['CronJob', 'plane-backup-restore', 'u-1']],
    );
    assert.equal(job.metadata?.annotations?.['cronjob.kubernetes.io/instantiate'], 'manual');
    const steps = [...(job.spec?.template.spec?.initContainers ?? []), ...(job.spec?.template.spec?.containers ?? [])];
    assert.equal(steps.length, 3);
    for (const step of steps) {
      assert.deepEqual(
        step.env?.filter((e) => e.name === 'RESTORE_BACKUP'),
        [{ name: 'RESTORE_BACKUP', value: '4f2a9c1e' }],
        `${step.name}: every step, the unpack first of all`,
      );
    }
    const template = cron.spec.jobTemplate.spec.template.spec;
    assert.equal(
      [...template.initContainers, ...template.containers].some((c: any) =>
        (c.env ?? []).some((e: { name: string }) => e.name === 'RESTORE_BACKUP'),
      ),
      false,
      'the template is not changed',
    );
    const twice = jobFromCronJob({ ...live, spec: { jobTemplate: job.spec && { spec: job.spec } } } as any, 'y', {
      RESTORE_BACKUP: 'list',
    });
    assert.deepEqual(
      twice.spec?.template.spec?.initContainers?.[0].env?.filter((e) => e.name === 'RESTORE_BACKUP'),
      [{ name: 'RESTORE_BACKUP', value: 'list' }],
    );
  });

  it("tells a drill schedule's period, its longest gap between two runs", () => {
    const day = 24 * 3_600_000;
    assert.equal(schedulePeriodMs('30 4 * * 0'), 7 * day);
    assert.equal(schedulePeriodMs('30 2 * * *'), day);
    assert.equal(schedulePeriodMs('0 4 1,15 * *'), 17 * day, 'from the 15th to the 1st of a 31-day month');
  });

  it('re-runs a Job without the labels its controller added', () => {
    const job = {
      metadata: { name: 'p', namespace: 'plane', labels: { a: '1', 'batch.kubernetes.io/controller-uid': 'x' } },
      spec: {
        backoffLimit: 3,
        template: {
          metadata: { labels: { a: '1', 'controller-uid': 'x', 'job-name': 'p' } },
          spec: { containers: [], restartPolicy: 'Never' },
        },
        selector: { matchLabels: { 'controller-uid': 'x' } },
      },
    };
    const rerun = rerunOfJob(job as any, 'p-rotate-1');
    assert.deepEqual(rerun.metadata?.labels, { a: '1' });
    assert.deepEqual(rerun.spec?.template.metadata?.labels, { a: '1' });
    assert.equal(rerun.spec?.selector, undefined);
    assert.equal(rerun.spec?.backoffLimit, 3);
  });
});

describe('files the CLI writes', () => {
  it('a connection file is 0600, whatever the umask, and never replaced without force', () => {
    const dir = tempDir();
    const file = path.join(dir, 'builder.env');
    const umask = process.umask(0);
    try {
      writePrivateFile(file, 'A=1\n', false);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.throws(() => writePrivateFile(file, 'A=2\n', false), /exists; add --force/);
      writePrivateFile(file, 'A=2\n', true);
      assert.equal(fs.readFileSync(file, 'utf8'), 'A=2\n');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(fs.readdirSync(dir), ['builder.env'], 'no temporary file left');
    } finally {
      process.umask(umask);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('files the CLI writes: what is already at the path', () => {
  const token = generateValue('plane-api-token');
  const content = `PLANE_API_KEY=${token}\n`;

  /** A temp dir with the test's paths in it; what is left in it is checked by each test. */
  function within(test: (dir: string) => void): void {
    const dir = tempDir();
    try {
      test(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  /** The message writePrivateFile refuses with, checked first to hold no part of the token. */
  function refusal(file: string, force: boolean): string {
    let message: string | undefined;
    try {
      writePrivateFile(file, content, force);
    } catch (error) {
      message = (error as Error).message;
    }
    assert.ok(message !== undefined, 'refused');
    assert.ok(!message.includes(token.slice(-12)), 'no part of the token in the message');
    assert.ok(!message.includes('\n'), 'one line');
    return message;
  }
  const holdsToken = (file: string) => fs.readFileSync(file, 'utf8').includes(token);

  it('refuses a directory, with --force too, and leaves no temporary file', () => {
    within((dir) => {
      const target = path.join(dir, 'builder.env');
      fs.mkdirSync(target);
      for (const force of [false, true]) assert.match(refusal(target, force), /builder\.env is a directory; name a file to write$/);
      assert.deepEqual(fs.readdirSync(dir), ['builder.env'], 'no temporary file left');
      assert.deepEqual(fs.readdirSync(target), []);
    });
  });

  it('refuses a dangling symlink without --force, and does not create its target', () => {
    within((dir) => {
      const link = path.join(dir, 'builder.env');
      fs.symlinkSync(path.join(dir, 'elsewhere.env'), link);
      assert.match(refusal(link, false), /builder\.env is a symlink; add --force to replace the link \(its target is left alone\)$/);
      assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the link is still there');
      assert.deepEqual(fs.readdirSync(dir), ['builder.env'], 'no target, no temporary file');
    });
  });

  it('with --force replaces a symlink by a 0600 file, never writing through it', () => {
    within((dir) => {
      const target = path.join(dir, 'target.env');
      fs.writeFileSync(target, 'KEEP=1\n', { mode: 0o644 });
      fs.chmodSync(target, 0o644);
      const link = path.join(dir, 'builder.env');
      fs.symlinkSync(target, link);
      assert.match(refusal(link, false), /is a symlink; add --force/);
      writePrivateFile(link, content, true);
      const written = fs.lstatSync(link);
      assert.ok(written.isFile() && !written.isSymbolicLink(), 'a regular file where the link was');
      assert.equal(written.mode & 0o777, 0o600);
      assert.ok(holdsToken(link), 'the content written');
      assert.equal(fs.readFileSync(target, 'utf8'), 'KEEP=1\n', 'the target untouched');
      assert.equal(fs.statSync(target).mode & 0o777, 0o644);
      const dangling = path.join(dir, 'writer.env');
      fs.symlinkSync(path.join(dir, 'nowhere.env'), dangling);
      writePrivateFile(dangling, content, true);
      assert.ok(fs.lstatSync(dangling).isFile(), 'a dangling link replaced too');
      assert.deepEqual(fs.readdirSync(dir).sort(), ['builder.env', 'target.env', 'writer.env'], 'no link target made, no temporary file');
    });
  });

  it('refuses an existing file without --force, and replaces it by a 0600 file with it', () => {
    within((dir) => {
      const file = path.join(dir, 'builder.env');
      fs.writeFileSync(file, 'OLD=1\n');
      fs.chmodSync(file, 0o644);
      assert.match(refusal(file, false), /builder\.env exists; add --force to replace it$/);
      assert.equal(fs.readFileSync(file, 'utf8'), 'OLD=1\n');
      writePrivateFile(file, content, true);
      assert.ok(holdsToken(file), 'replaced');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(fs.readdirSync(dir), ['builder.env'], 'no temporary file left');
    });
  });

  it('leaves no temporary file when the write fails: no such directory, or the rename after the temporary file is made', () => {
    within((dir) => {
      assert.match(refusal(path.join(dir, 'gone', 'builder.env'), true), /gone.builder\.env: no such directory$/);
      // Nothing at new.env: the temporary file is made next to it, then the rename to "new.env/" fails.
      assert.match(refusal(`${path.join(dir, 'new.env')}/`, true), /new\.env\/: a part of the path is not a directory$/);
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  });

  it('on the command line: a directory or a symlink is refused before the cluster is asked (exit 2, one line)', () => {
    within((dir) => {
      const link = path.join(dir, 'link.env');
      fs.symlinkSync(path.join(dir, 'elsewhere.env'), link);
      for (const [output, message] of [
        [dir, / is a directory; name a file to write\n$/],
        [link, /link\.env is a symlink; add --force to replace the link/],
      ] as const) {
        const result = cli(['secrets', 'connection', 'builder', '--output', output, ...(output === dir ? ['--force'] : [])]);
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, message);
        assert.equal(result.stderr.split('\n').length, 2, 'one line');
      }
      assert.deepEqual(fs.readdirSync(dir), ['link.env']);
    });
  });
});

describe('the command line (no cluster needed to refuse)', () => {
  const refusals: [string, string[], RegExp][] = [
    ['a restore without --yes', ['restore', 'latest'], /restore replaces Plane's database with backup latest .* add --yes/],
    [
      'a backup name that is not one',
      ['restore', '../etc/passwd', '--yes'],
      /backup: expected latest or a snapshot id such as 4f2a9c1e \(plane-k3s backup list\)/,
    ],
    [
      'a version override that is not a version',
      ['restore', 'latest', '--yes', '--allow-version', '1.2'],
      /--allow-version: expected a Plane version such as v1\.2\.2, got "1\.2"/,
    ],
    [
      "a rotation of the backups' key",
      ['secrets', 'rotate', 'plane-backup-key', '--yes'],
      /plane-backup-key restic-password: every backup is encrypted with it/,
    ],
    ['a bad timeout', ['backup', 'now', '--timeout', 'soon'], /--timeout: expected minutes > 0, got "soon"/],
    [
      'a rotation of a server password',
      ['secrets', 'rotate', 'plane-postgres', '--yes'],
      /plane-postgres password: the server holds this value too/,
    ],
    [
      'a rotation without --yes',
      ['secrets', 'rotate', 'plane-agent-builder'],
      /would replace plane-agent-builder PLANE_API_KEY, then the provisioning Job runs again; .* Add --yes to do it/,
    ],
    ['an env file with a typo', ['secrets', 'load', '-'], /stdin: line 1: PLANE_REDIS__PASWORD is not a key/],
    ['an unknown command', ['verfiy'], /unknown command 'verfiy'/],
    ['a bad site file', ['--site', path.join(REPO_ROOT, 'package.json'), 'verify'], /^plane-k3s: site file .*package\.json: /],
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what}: exit 2, one line on stderr, nothing on stdout`, () => {
      const result = cli(args, 'PLANE_REDIS__PASWORD=0123456789abcdef\n');
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
      if (!args.includes('verfiy')) assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    });
  }

  it('secrets variables: every variable load accepts, with its Secret, key and format', () => {
    const result = cli(['secrets', 'variables']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    const generated = stack.secrets.flatMap((s) =>
      Object.entries(s.keys)
        .filter(([, m]) => 'generate' in m)
        .map(([k]) => envVariable(s.name, k)),
    );
    assert.deepEqual(
      lines.map((l) => l.split('\t')[0]),
      generated,
    );
    assert.ok(lines.includes('PLANE_AGENT_BUILDER__PLANE_API_KEY\tplane-agent-builder PLANE_API_KEY (plane-api-token)'));
  });
});
