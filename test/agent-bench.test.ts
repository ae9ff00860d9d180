/**
 * The agent-mix benchmark without Plane (its run against Plane's real backend is
 * test/plane/agent-bench.test.ts): how it refuses bad input (one line, no token shown), the mix it
 * draws, that its load is open-loop (a slow server gets the rate asked, not fewer calls), the web UI's
 * page plans, the api's serving read from the synth, and its memory and CPU readings on the real kernel.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseOptions, readTokens } from '../bench/agent-mix';
import { CgroupMonitor, ProcessTreeMonitor } from '../bench/load/api-monitor';
import { AGENT_MIX, BenchProject, drawCall, PAGE_SIZE, seededRandom } from '../bench/load/mix';
import { runOpenLoop } from '../bench/load/open-loop';
import { PACING_STRATEGIES } from '../bench/load/pacing';
import { apiServing, describeApiServing } from '../bench/load/stack-api';
import { percentile, summarize } from '../bench/load/stats';
import { UrlTransport } from '../bench/load/url-transport';
import { listPageLoad, Page, peekLoad, workItemPageLoad } from '../bench/load/web-ui';
import { PlaneApi } from '../ops/plane-api';
import { Stack } from '../ops/stack';
import { freePort, REPO_ROOT, siteWith } from './helpers';

const BENCH = path.join(REPO_ROOT, 'build', 'bench', 'agent-mix.js');
const token = () => `plane_api_${randomBytes(16).toString('hex')}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-bench-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tokensFile(lines: string[]): string {
  const file = path.join(tmp, `tokens-${randomBytes(4).toString('hex')}`);
  fs.writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  return file;
}

const project: BenchProject = {
  id: '7d5f0f0a-4c4e-4a55-9c55-2f1f7c1e2a11',
  identifier: 'BENCH',
  stateIds: ['s1', 's2', 's3'],
  workItems: Array.from({ length: 500 }, (_, i) => ({ id: `item-${i + 1}`, sequenceId: i + 1 })),
  created: [],
};

describe('bench:agents refuses bad input in one line, never showing a token', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 60_000 });

  it('names the line of a malformed token, not its value', () => {
    const secret = `plane_api_${'z'.repeat(32)}`;
    const file = tokensFile([token(), '# a comment', '', secret]);
    const result = run(['--base-url', 'http://127.0.0.1:9', '--tokens-file', file]);
    assert.equal(result.status, 2);
    assert.equal(result.stderr.trim(), `bench:agents: line 4 of ${file} is not a Plane API token (plane_api_ followed by 32 hex digits)`);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(secret));
  });

  it('refuses a URL with a password, a missing URL, unknown strategies, a bad schedule, each in one line', () => {
    const file = tokensFile([token(), token()]);
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--tokens-file', file], {}, /^--base-url is missing/],
      [['--base-url', 'http://user:hunter2@127.0.0.1:9', '--tokens-file', file], {}, /^--base-url holds a user or password/],
      [
        ['--base-url', 'http://127.0.0.1:9', '--tokens-file', file, '--pacing', 'exact-30,sloppy'],
        {},
        /^--pacing sloppy: unknown; the strategies are exact-30, /,
      ],
      [
        ['--base-url', 'http://127.0.0.1:9', '--tokens-file', file, '--schedule', 'bursty'],
        {},
        /^--schedule bursty: expected fixed or poisson$/,
      ],
      [
        ['--base-url', 'http://127.0.0.1:9', '--tokens-file', file, '--agents', '3'],
        {},
        /^--agents 3: expected a whole number up to the 2 tokens/,
      ],
      [['--base-url', 'http://127.0.0.1:9', '--tokens-file', file, '--rates', '2,x'], {}, /^--rates x: expected a positive number$/],
      [
        ['--base-url', 'http://127.0.0.1:9', '--tokens-file', file, '--ui-email', 'a@b.c'],
        {},
        /^--ui-email needs the password in PLANE_BENCH_UI_PASSWORD$/,
      ],
      [['--base-url', 'http://127.0.0.1:9', '--tokens-file', path.join(tmp, 'none')], {}, /^--tokens-file .*none: ENOENT$/],
      [['--base-url', 'http://127.0.0.1:9'], {}, /^no tokens: give --tokens-file/],
      [['--base-url', 'http://127.0.0.1:9', '--tokens-file', file, '--durations', '5'], {}, /Unknown option '--durations'/],
    ];
    for (const [args, env, expected] of cases) {
      assert.throws(
        () => parseOptions(args, env, 'javisi'),
        (error: Error) => expected.test(error.message) && !error.message.includes('hunter2') && !error.message.includes('\n'),
        args.join(' '),
      );
    }
  });

  it('an api that does not answer: one line, exit 1, no token', () => {
    const tokens = [token(), token()];
    const result = run(['--base-url', 'http://127.0.0.1:9', '--rates', '1', '--duration', '1'], { PLANE_BENCH_TOKENS: tokens.join(',') });
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^bench:agents: GET \/api\/v1\/workspaces\/javisi\/projects\/\?per_page=100&cursor=100:0:0: connect ECONNREFUSED/,
    );
    assert.equal(result.stderr.trim().split('\n').length, 1);
    for (const t of tokens) assert.ok(!`${result.stdout}${result.stderr}`.includes(t));
  });

  it('reads tokens from the environment too, and refuses one given twice', () => {
    const [a, b] = [token(), token()];
    assert.deepEqual(readTokens(undefined, ` ${a},\n${b} `), [a, b]);
    assert.throws(() => readTokens(undefined, `${a} ${a}`), /names a token twice/);
    assert.throws(() => readTokens(undefined, `${a} plane_api_short`), /^Error: token 2 of PLANE_BENCH_TOKENS is not a Plane API token/);
  });

  it('defaults to the site workspace, a fixed schedule, 2, 5 and 10 requests/s for 60 s each', () => {
    const options = parseOptions(['--base-url', 'https://work.example.org'], { PLANE_BENCH_TOKENS: token() }, 'javisi');
    assert.equal(options.workspace, 'javisi');
    assert.equal(options.schedule, 'fixed');
    assert.deepEqual(options.rates, [2, 5, 10]);
    assert.equal(options.durationMs, 60_000);
    assert.deepEqual(
      parseOptions(
        ['--base-url', 'http://x', '--pacing', 'all'],
        { PLANE_BENCH_TOKENS: Array.from({ length: 6 }, token).join(' ') },
        'javisi',
      ).pacing,
      PACING_STRATEGIES.map((s) => s.name),
    );
  });
});

describe('the agent mix', () => {
  const api = new PlaneApi({ request: () => Promise.reject(new Error('not sent')) }, 'plane.test', 'javisi');

  it('is the measured mix: 35 % paged lists, then reads, creates, state changes, comments, projects, states, members and labels', () => {
    assert.equal(
      AGENT_MIX.reduce((sum, k) => sum + k.weight, 0),
      100,
    );
    assert.deepEqual(
      AGENT_MIX.map((k) => [k.kind, k.weight]),
      [
        ['list', 35],
        ['read', 20],
        ['create', 10],
        ['update state', 10],
        ['comment', 10],
        ['projects', 5],
        ['states', 5],
        ['members/labels', 5],
      ],
    );
  });

  it('draws each kind at its share, over the whole project, and pages every list', () => {
    const random = seededRandom(7);
    const calls = Array.from({ length: 20_000 }, () => drawCall(api, project, random));
    for (const kind of AGENT_MIX) {
      const drawn = calls.filter((c) => c.kind === kind.kind).length / calls.length;
      assert.ok(Math.abs(drawn - kind.weight / 100) < 0.015, `${kind.kind}: ${drawn}`);
    }
    const lists = calls.filter((c) => c.kind === 'list');
    assert.ok(lists.every((c) => c.path.includes(`per_page=${PAGE_SIZE}&cursor=${PAGE_SIZE}:`)));
    const pages = new Set(lists.map((c) => /cursor=\d+:(\d+):0/.exec(c.path)?.[1]));
    assert.equal(pages.size, 500 / PAGE_SIZE, 'every page of the project is read');
    assert.ok(calls.some((c) => c.path.endsWith('/work-items/BENCH-500/')) && calls.some((c) => c.path.endsWith('/work-items/item-1/')));
    assert.ok(calls.filter((c) => c.method !== 'GET').every((c) => c.body !== undefined));
  });

  it('the same seed draws the same calls', () => {
    const draw = (seed: number) =>
      Array.from(
        { length: 50 },
        (
          (r) => () =>
            drawCall(api, project, r)
        )(seededRandom(seed)),
      ).map((c) => c.path);
    assert.deepEqual(draw(3), draw(3));
    assert.notDeepEqual(draw(3), draw(4));
  });
});

describe('the load is open-loop', () => {
  let server: http.Server;
  let baseUrl: URL;
  const seen: { key: string | undefined; at: number }[] = [];
  before(async () => {
    // Answers each call after 700 ms: a closed loop would send at most one call per agent per 700 ms.
    server = http.createServer((req, res) => {
      seen.push({ key: req.headers['x-api-key'] as string | undefined, at: performance.now() });
      setTimeout(
        () =>
          res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end('{"id":"new","sequence_id":501}'),
        700,
      );
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    baseUrl = new URL(`http://127.0.0.1:${port}`);
  });
  after(() => server.close());

  for (const schedule of ['fixed', 'poisson'] as const) {
    it(`sends the rate asked whatever the answers' time, spread over the agents' tokens (${schedule})`, async () => {
      seen.length = 0;
      const transport = new UrlTransport(baseUrl);
      const tokens = [token(), token(), token(), token()];
      const api = new PlaneApi(transport, transport.host, 'javisi');
      const copy: BenchProject = { ...project, workItems: [...project.workItems], created: [] };
      const result = await runOpenLoop({
        api,
        tokens,
        project: copy,
        requestsPerSecond: 40,
        durationMs: 1500,
        schedule,
        random: seededRandom(11),
      });
      transport.close();
      const expected = 60;
      const tolerance = schedule === 'fixed' ? 4 : 25;
      assert.ok(Math.abs(result.outcomes.length - expected) <= tolerance, `${result.outcomes.length} calls`);
      assert.ok(
        result.outcomes.every((o) => o.status >= 200 && o.ms >= 690),
        'each timed from when it was due',
      );
      const perToken = tokens.map((t) => seen.filter((s) => s.key === t).length);
      if (schedule === 'fixed') assert.ok(Math.max(...perToken) - Math.min(...perToken) <= 1, perToken.join(' '));
      // More calls went out during the first 700 ms than a closed loop could send at all.
      const first = Math.min(...seen.map((s) => s.at));
      assert.ok(seen.filter((s) => s.at < first + 650).length > tokens.length * 2, 'calls did not wait for answers');
      const creates = result.outcomes.filter((o) => o.kind === 'create').length;
      assert.equal(copy.workItems.length, 500 + creates, 'created work items join the project');
      assert.deepEqual(
        copy.created.map((c) => tokens.includes(c.token)),
        Array(creates).fill(true),
        'each with the token that may delete it',
      );
    });
  }
});

describe('figures', () => {
  it('percentiles by nearest rank, latency over served answers only', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.deepEqual([percentile(samples, 50), percentile(samples, 95), percentile(samples, 99), percentile([7], 99)], [50, 95, 99, 7]);
    assert.ok(Number.isNaN(percentile([], 50)));
    const s = summarize([
      { kind: 'list', status: 200, ms: 100 },
      { kind: 'list', status: 429, ms: 1 },
      { kind: 'read', status: 502, ms: 5000 },
      { kind: 'read', status: 0, ms: 30000 },
      { kind: 'read', status: 404, ms: 20 },
    ]);
    assert.deepEqual([s.calls, s.served, s.status429, s.status5xx, s.errors, s.status4xx, s.max], [5, 2, 1, 1, 1, 1, 100]);
  });
});

describe("the web UI's pages, as Plane's web app loads them", () => {
  const pages: Page[] = [
    listPageLoad('javisi', project),
    peekLoad('javisi', project, 'item-9'),
    workItemPageLoad('javisi', project, project.workItems[8]),
  ];

  it('each request waits only for requests of its page, with no cycle, every id once', () => {
    for (const page of pages) {
      const ids = page.requests.map((r) => r.id);
      assert.equal(new Set(ids).size, ids.length, page.name);
      const done = new Set<string>();
      for (let progress = true; progress;) {
        progress = false;
        for (const r of page.requests)
          if (!done.has(r.id) && r.after.every((a) => done.has(a))) {
            done.add(r.id);
            progress = true;
          }
      }
      assert.equal(done.size, ids.length, `${page.name}: unreachable ${ids.filter((i) => !done.has(i)).join(', ')}`);
    }
  });

  it("uses the app's API (cookie auth, not the rate-limited v1), the list in 100s, the item with its expansions", () => {
    for (const page of pages)
      assert.ok(
        page.requests.every((r) => r.path.startsWith('/api/') && !r.path.startsWith('/api/v1/')),
        page.name,
      );
    const list = pages[0].requests.find((r) => r.id === 'work-items');
    assert.match(list?.path ?? '', /\/projects\/7d5f0f0a-[^/]+\/issues\/\?.*cursor=100%3A0%3A0&per_page=100/);
    assert.deepEqual(list?.after, ['display-filters']);
    assert.match(pages[2].requests.find((r) => r.id === 'item')?.path ?? '', /\/work-items\/BENCH-9\/\?expand=issue_reactions/);
    assert.deepEqual(
      pages.map((p) => p.requests.length),
      [28, 6, 32],
    );
  });
});

describe("the api's serving, read from the synth", () => {
  it("is the stack's: limits, workers and rate limit as the pod gets them", () => {
    assert.deepEqual(apiServing(new Stack(siteWith())), {
      replicas: 1,
      cpuLimit: '1',
      memoryLimit: '1Gi',
      gunicornWorkers: '2',
      rateLimit: '30/minute',
    });
  });

  it('follows the site file', () => {
    const changed = apiServing(
      new Stack(
        siteWith((tree) => {
          tree.components.api.gunicornWorkers = 3;
          tree.components.api.resources.limits.cpu = '1500m';
          tree.plane.apiKeyRateLimit = '60/minute';
        }),
      ),
    );
    assert.deepEqual([changed.gunicornWorkers, changed.cpuLimit, changed.rateLimit], ['3', '1500m', '60/minute']);
    assert.match(describeApiServing(changed), /^1 replica, 1500m CPU and 1Gi limits, 3 gunicorn workers, API_KEY_RATE_LIMIT 60\/minute$/);
  });
});

describe('memory and CPU of the api under test, read from the kernel', () => {
  // A child that holds 96 MiB and spins for 0.4 s CPU, then exits.
  const HOG =
    'const b=Buffer.alloc(96*1048576,1);const t=process.cpuUsage();while(process.cpuUsage(t).user<400000){}setTimeout(()=>b.length,300)';

  it("a process tree: its children's RSS and CPU count", async () => {
    const parent = spawn('sh', ['-c', `"${process.execPath}" -e '${HOG}' & wait`], { stdio: 'ignore' });
    const monitor = new ProcessTreeMonitor(parent.pid as number);
    monitor.start();
    await new Promise((resolve) => parent.on('exit', resolve));
    const usage = monitor.stop();
    assert.ok((usage.peakBytes ?? 0) >= 96 * 1048576, `peak ${usage.peakBytes}`);
    assert.ok((usage.cpuSeconds ?? 0) >= 0.3, `cpu ${usage.cpuSeconds}`);
  });

  const v1 = '/sys/fs/cgroup/memory';
  const writable =
    process.getuid?.() === 0 && fs.existsSync(path.join(v1, 'cgroup.procs')) && fs.existsSync('/sys/fs/cgroup/cpuacct/cgroup.procs');
  it(
    'a cgroup v1: its high-water mark, limit and CPU time',
    { skip: writable ? false : 'needs root and cgroup v1 memory and cpuacct hierarchies' },
    async () => {
      const name = `plane-k3s-test-${process.pid}`;
      const dirs = [path.join(v1, name), path.join('/sys/fs/cgroup/cpuacct', name)];
      for (const dir of dirs) fs.mkdirSync(dir);
      try {
        fs.writeFileSync(path.join(dirs[0], 'memory.limit_in_bytes'), String(512 * 1048576));
        const monitor = new CgroupMonitor(dirs);
        assert.match(monitor.describe(), new RegExp(`^cgroup v1 ${name}: memory limit 512 MiB, 0 processes$`));
        monitor.start();
        const script = `for d in ${dirs.join(' ')}; do echo $$ > $d/cgroup.procs; done; exec "${process.execPath}" -e '${HOG}'`;
        const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
        await new Promise((resolve) => child.on('exit', resolve));
        const usage = monitor.stop();
        assert.ok((usage.peakBytes ?? 0) >= 96 * 1048576, `peak ${usage.peakBytes}`);
        assert.ok((usage.cpuSeconds ?? 0) >= 0.3, `cpu ${usage.cpuSeconds}`);
      } finally {
        for (const dir of dirs) fs.rmdirSync(dir);
      }
    },
  );
});
