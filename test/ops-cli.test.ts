/**
 * The operator's CLI when it cannot reach a cluster (issue 16): no kubeconfig, an unknown context, an
 * API server nobody answers. Each is one line on stderr naming the fix, nothing on stdout, exit 2 (the
 * README's "the command could not run"), for every command that needs the cluster. And its help.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main, program } from '../ops/cli';
import { Kube } from '../ops/kube';
import { ProcessRun, REPO_ROOT, runProcess } from './helpers';

const BIN = path.join(REPO_ROOT, 'scripts', 'plane-k3s.mjs');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-ops-cli-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, server: string, options: { current?: string; extra?: string } = {}): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: c, cluster: {server: "${server}"${server.startsWith('http:') ? ', insecure-skip-tls-verify: true' : ''}}}]`,
      'users: [{name: u, user: {token: x}}]',
      `contexts: [{name: c, context: {cluster: c, user: u}}, {name: other, context: {cluster: c, user: u}}${options.extra ?? ''}]`,
      ...(options.current === '' ? [] : [`current-context: ${options.current ?? 'c'}`]),
      '',
    ].join('\n'),
  );
  return file;
}

/** A local port nobody listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The CLI as `npx plane-k3s` runs it, in a HOME with no ~/.kube and no KUBECONFIG unless given. */
function cli(args: string[], env: Record<string, string> = {}): Promise<ProcessRun> {
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const base: NodeJS.ProcessEnv = { ...process.env, HOME: home, SITE_CONFIG: '' };
  delete base.KUBECONFIG;
  return runProcess(process.execPath, [BIN, ...args], { ...base, ...env });
}

/**
 * main() in this process, its stderr captured (stdout is the test runner's: the commands here never
 * reach the point of writing a report), with HOME and KUBECONFIG as `env` says: far quicker than a
 * Node start per command. The child process runs above check what the operator sees, stdout included.
 */
async function inProcess(args: string[], env: Record<string, string> = {}): Promise<ProcessRun> {
  const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG, SITE_CONFIG: process.env.SITE_CONFIG };
  const write = process.stderr.write;
  let stderr = '';
  process.env.HOME = path.join(dir, 'home');
  process.env.SITE_CONFIG = '';
  delete process.env.KUBECONFIG;
  Object.assign(process.env, env);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof write;
  try {
    const code = await main(args);
    return { code, stdout: '', stderr };
  } finally {
    process.stderr.write = write;
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

function assertOneLine(result: ProcessRun, message: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, result.stderr);
  assert.match(result.stderr, message);
}

const NO_KUBECONFIG =
  /^plane-k3s: kubeconfig: none found: \$KUBECONFIG is not set and .*\.kube\/config does not exist; set KUBECONFIG or pass --kubeconfig <file> \(and --context <name>\)\n$/;

/** Every command that needs the cluster, with what it needs to get that far. */
const COMMANDS: string[][] = [
  ['verify'],
  ['smoke'],
  ['secrets', 'list'],
  ['secrets', 'rotate', 'plane-agent-builder', '--yes'],
  ['audit'],
  ['audit', '--since', '24h', '--agent', 'builder'],
  ['backup', 'now'],
  ['backup', 'drill'],
  ['backup', 'list'],
  ['restore', 'latest', '--yes'],
  ['upgrade', '--rehearse', 'v1.3.1'],
];

describe('plane-k3s without a usable cluster: one line, exit 2', () => {
  let refused: string;
  /** The operator's view (a Node start each, about 1 s): no kubeconfig, a closed port, an unknown context. */
  let children: Promise<ProcessRun[]>;
  before(async () => {
    refused = kubeconfig('refused', `https://127.0.0.1:${await closedPort()}`);
    children = Promise.all([
      cli(['verify']),
      cli(['--kubeconfig', refused, 'verify']),
      cli(['--kubeconfig', refused, '--context', 'prod', 'verify']),
    ]);
  });

  it('no kubeconfig at all (no $KUBECONFIG, no ~/.kube/config): says how to give one', async () => {
    assertOneLine((await children)[0], NO_KUBECONFIG);
    for (const args of COMMANDS) assertOneLine(await inProcess(args), NO_KUBECONFIG);
  });

  it('an API server nobody listens on: names the server and the error, for every command', async () => {
    const server = /server: "([^"]+)"/.exec(fs.readFileSync(refused, 'utf8'))?.[1] ?? '';
    const message = new RegExp(
      `^plane-k3s: cannot reach the API server ${server.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(context c\\): connect ECONNREFUSED`,
    );
    assertOneLine((await children)[1], message);
    for (const args of COMMANDS) assertOneLine(await inProcess(['--kubeconfig', refused, ...args]), message);
    assertOneLine(await inProcess(['verify'], { KUBECONFIG: refused }), message);
  });

  it('an unknown --context: says it is not in the kubeconfig and lists the contexts it has', async () => {
    assertOneLine((await children)[2], /^plane-k3s: kubeconfig: context prod is not in .*refused \(its contexts: c, other\)\n$/);
  });

  it('a kubeconfig file that does not exist: names it and where it was named', async () => {
    assertOneLine(
      await inProcess(['--kubeconfig', path.join(dir, 'none'), 'verify']),
      /kubeconfig: .*none: no such file \(--kubeconfig names it\)$/m,
    );
    assertOneLine(
      await inProcess(['verify'], { KUBECONFIG: path.join(dir, 'none') }),
      /kubeconfig: .*none: no such file \(\$KUBECONFIG names it\)$/m,
    );
  });

  it('no current context: asks for --context, listing them', async () => {
    const file = kubeconfig('no-current', 'https://127.0.0.1:1', { current: '' });
    assertOneLine(
      await inProcess(['--kubeconfig', file, 'verify']),
      /kubeconfig: .*no-current has no current context: pass --context <name> \(its contexts: c, other\)$/m,
    );
  });

  it('a context whose cluster is not in the kubeconfig: names both', async () => {
    const file = kubeconfig('dangling', 'https://127.0.0.1:1', { extra: ', {name: d, context: {cluster: gone, user: u}}' });
    assertOneLine(
      await inProcess(['--kubeconfig', file, '--context', 'd', 'verify']),
      /kubeconfig: context d names cluster gone, which is not in .*dangling$/m,
    );
  });

  it('input is still judged before the cluster is looked for', async () => {
    assertOneLine(
      await inProcess(['--kubeconfig', refused, 'secrets', 'rotate', 'plane-agent-builder']),
      /would replace plane-agent-builder PLANE_API_KEY/,
    );
  });
});

describe('plane-k3s audit: its input judged before the cluster is looked for', () => {
  it('--since that is neither a duration nor a date: one line saying what it takes', async () => {
    assertOneLine(
      await inProcess(['audit', '--since', 'yesterday']),
      /^plane-k3s: --since: expected a duration such as 90m, 24h, 7d or 2w, or a date such as 2026-05-01 or 2026-05-01T08:00:00Z, got "yesterday"\n$/,
    );
    assertOneLine(await inProcess(['audit', '--since', '2026-05-01T08:00']), /^plane-k3s: --since: 2026-05-01T08:00 has no time zone/);
    assertOneLine(await inProcess(['audit', '--since', '2999-01-01']), /^plane-k3s: --since: 2999-01-01 is in the future/);
  });

  it('--agent that is not an agent of the site: one line listing them', async () => {
    assertOneLine(
      await inProcess(['audit', '--agent', 'nobody']),
      /^plane-k3s: --agent: "nobody" is neither admin nor an agent of the site \(concierge, builder, [a-z, -]+\)\n$/,
    );
  });

  it('a good --since and --agent get as far as the kubeconfig', async () => {
    assertOneLine(await inProcess(['audit', '--since', '7d', '--agent', 'admin']), NO_KUBECONFIG);
  });
});

describe('Kube.unreachable: what counts as an API server that is there', () => {
  let server: http.Server;
  let port: number;
  const answers: Record<string, number> = {};
  before(async () => {
    server = http.createServer((req, res) => {
      const status = answers[String(req.headers.authorization)];
      if (status === 0) return; // never answers
      res
        .writeHead(status ?? 500, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', code: status, message: 'x', gitVersion: 'v1.33.0' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const kubeFor = (token: string, status: number) => {
    answers[`Bearer ${token}`] = status;
    const file = kubeconfig(`http-${token}`, `http://127.0.0.1:${port}`);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('token: x', `token: ${token}`));
    return new Kube({ kubeconfig: file });
  };

  it('an answer, even an error status, means it is there', async () => {
    assert.equal(await kubeFor('ok', 200).unreachable(), undefined);
    assert.equal(await kubeFor('forbidden', 403).unreachable(), undefined);
  });

  it('refused credentials (401) and no answer at all are not', async () => {
    assert.match(
      (await kubeFor('bad', 401).unreachable()) ?? '',
      /^the API server http:\/\/127\.0\.0\.1:\d+ refuses the credentials of context c \(401\)$/,
    );
    assert.match(
      (await kubeFor('silent', 0).unreachable(300)) ?? '',
      /^cannot reach the API server http:\/\/127\.0\.0\.1:\d+ \(context c\): no answer within 0\.3 s$/,
    );
  });
});

describe('plane-k3s upgrade --rehearse refuses bad input before it reads the kubeconfig: one line, exit 2', () => {
  it('a target that is not a release, not later than the running one, or a malformed image', async () => {
    assertOneLine(
      await inProcess(['upgrade', '--rehearse', 'latest']),
      /^plane-k3s: --rehearse: expected a Plane release such as v1\.3\.1, got "latest"\n$/,
    );
    for (const tag of ['v1.2.2', 'v1.2.1', 'v0.9.0'])
      assertOneLine(
        await inProcess(['upgrade', '--rehearse', tag]),
        /^plane-k3s: --rehearse: the site runs Plane v1\.2\.2: a rehearsal migrates forward, to a later release \(Plane's migrations do not go back\)\n$/,
      );
    assertOneLine(
      await inProcess(['upgrade', '--rehearse', 'v1.3.1', '--image', 'plane backend']),
      /^plane-k3s: --image: expected an image reference such as docker\.io\/makeplane\/plane-backend:v1\.3\.1, got "plane backend"\n$/,
    );
  });
});

describe('plane-k3s --help', () => {
  it('shows --timeout defaults in minutes, as the option takes them', () => {
    const expected: [string[], number][] = [
      [['backup', 'now'], 60],
      [['backup', 'drill'], 60],
      [['backup', 'list'], 10],
      [['restore'], 60],
      [['secrets', 'rotate'], 15],
      [['upgrade'], 60],
    ];
    for (const [names, minutes] of expected) {
      const command = names.reduce((parent, name) => parent.commands.find((c) => c.name() === name) ?? assert.fail(name), program());
      const help = command.helpInformation();
      assert.match(help, new RegExp(`--timeout <minutes> +wait .*at most \\(default: ${minutes} minutes\\)\\n`), names.join(' '));
      assert.doesNotMatch(help, /\d{5,}/, names.join(' '));
    }
  });
});
