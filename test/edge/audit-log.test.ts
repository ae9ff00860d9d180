/**
 * The audit trail with a real Caddy (tools/caddy/install.sh, the image's version) running the site's
 * Caddyfile in front of stub upstreams: requests carry tokens in X-Api-Key, and for good measure in
 * Authorization, a cookie, the query, the path, the User-Agent, other headers and the Host; then no
 * file of the log and no line of Caddy's own output may hold a token, every call with a key carries
 * Caddy's hash of it, and ops/audit over the real files attributes each call to the right agent. A
 * second Caddy, with a small edge.auditLog, shows the rolling that Caddy applies. Clients connect from
 * 127.0.0.1 (the pod's loopback, which vpn_only lets in), so no test address and no root is needed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { SiteConfig } from '../../lib/config/site-config';
import { API_KEY_HASH_FIELD, CaddyfileOptions, renderCaddyfile } from '../../lib/edge/caddyfile';
import { auditLogRolling, siteCaddyfileOptions } from '../../lib/edge/edge-site';
import { PlaneUpstreams, UpstreamName } from '../../lib/edge/plane-routes';
import { appHost } from '../../lib/site';
import { AuditSummary, AuditTrail, callersByHash, CallerSummary, keyHash, trailFiles } from '../../ops/audit';
import { generateValue } from '../../ops/secrets';
import { siteWith } from '../helpers';
import { caddy, freePort, logInto, makeCertificate, Reply, request, RunningCaddy, startCaddy, startStubs, Stubs, tempDir } from './harness';

const SITE = siteWith();
const HOST = appHost(SITE);
const FROM = '127.0.0.1';
const [FIRST_AGENT, SECOND_AGENT] = SITE.users.agents.map((a) => a.id);
/** Fresh tokens in Plane's format, as the bootstrap Job makes them; `stranger` is in no Secret. */
const TOKENS: Readonly<Record<string, string>> = {
  admin: generateValue('plane-api-token'),
  [FIRST_AGENT]: generateValue('plane-api-token'),
  [SECOND_AGENT]: generateValue('plane-api-token'),
  stranger: generateValue('plane-api-token'),
};
const SITE_TOKENS = { admin: TOKENS.admin, [FIRST_AGENT]: TOKENS[FIRST_AGENT], [SECOND_AGENT]: TOKENS[SECOND_AGENT] };
const PROJECT = '3f2b9c1e-8d4a-4b6e-9f1a-2c3d4e5f6a7b';

/**
 * Whose tokens (or their random part, in any case) are in `text`: names, never the token itself, so a
 * failing assert prints none.
 */
function tokensIn(text: string): string[] {
  const lower = text.toLowerCase();
  return Object.entries(TOKENS).flatMap(([who, token]) => (lower.includes(token.slice('plane_api_'.length)) ? [who] : []));
}

/** Every line of every file of the log folder, rolled ones gunzipped. */
function logText(dir: string): string {
  return fs
    .readdirSync(dir)
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name));
      return (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
    })
    .join('');
}

/** The api stand-in: answers `?answer=<status>` (else 200) after `?delay=<ms>`, as JSON. */
async function startApi(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    const status = Number(url.searchParams.get('answer') ?? 200);
    setTimeout(
      () => {
        res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '2' } : {}) });
        res.end(JSON.stringify({ status }));
      },
      Number(url.searchParams.get('delay') ?? 0),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Edge {
  readonly caddy: RunningCaddy;
  readonly options: CaddyfileOptions;
  readonly ca: string;
  /** The log's folder. */
  readonly logDir: string;
}

/** The site's Caddyfile on loopback: stubs behind it (the api's answering as told, the space's port closed: 502). */
async function startEdge(site: SiteConfig, dir: string, stubs: Stubs, apiPort: number): Promise<Edge> {
  const names: UpstreamName[] = ['web', 'space', 'admin', 'live', 'api', 'objectStore'];
  const ports: Record<UpstreamName, number> = { ...stubs.ports, api: apiPort, space: await freePort() };
  const upstreams = Object.fromEntries(names.map((n) => [n, { host: '127.0.0.1', port: ports[n] }])) as unknown as PlaneUpstreams;
  const certificate = makeCertificate(dir, appHost(site));
  const siteOptions = siteCaddyfileOptions(site, upstreams);
  const options: CaddyfileOptions = {
    ...siteOptions,
    ports: { http: await freePort(), https: await freePort(), health: await freePort() },
    bind: ['127.0.0.1'],
    tls: { mode: 'files', certFile: certificate.certFile, keyFile: certificate.keyFile },
    auditLog: logInto(dir, siteOptions.auditLog),
  };
  const running = await startCaddy(renderCaddyfile(options), dir, options.ports.health);
  return { caddy: running, options, ca: certificate.ca, logDir: path.dirname(options.auditLog.file) };
}

function call(edge: Edge, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return request({ scheme: 'https', port: edge.options.ports.https, host: HOST, path: urlPath, from: FROM, ca: edge.ca, method, headers });
}

/** Polls until `check` holds (Caddy writes and rolls its log in the background). */
async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs / 1000} s`);
  }
}

interface LoggedCall {
  readonly uri: string;
  readonly status: number;
  readonly hash?: string;
}

function loggedCalls(text: string): LoggedCall[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, any>)
    .map((entry) => ({ uri: entry.request.uri, status: entry.status, hash: entry[API_KEY_HASH_FIELD] }));
}

describe("the audit trail: the site's Caddyfile in a real Caddy", () => {
  let stubs: Stubs;
  let api: Awaited<ReturnType<typeof startApi>>;
  let edge: Edge;
  const dir = tempDir('audit');
  /** Each request sent: a marker in its query, whose key it carried, and the status it got. */
  const sent: { marker: string; who?: string; status: number }[] = [];
  let summary: AuditSummary;

  const send = async (who: string | undefined, urlPath: string, extra: Record<string, string> = {}, method = 'GET') => {
    const marker = `m${sent.length}`;
    const separator = urlPath.includes('?') ? '&' : '?';
    const reply = await call(
      edge,
      `${urlPath}${separator}marker=${marker}`,
      { ...(who ? { 'X-Api-Key': TOKENS[who] } : {}), ...extra },
      method,
    );
    sent.push({ marker, who, status: reply.status });
    return reply;
  };

  before(async () => {
    stubs = await startStubs(['web', 'admin', 'live', 'objectStore']);
    api = await startApi();
    edge = await startEdge(SITE, dir, stubs, api.port);
    const items = `/api/v1/workspaces/${SITE.plane.workspace.slug}/projects/${PROJECT}/work-items/`;

    // The first agent: lists, creates, is rate-limited, reads one item by key and one slowly.
    for (let i = 0; i < 5; i++) await send(FIRST_AGENT, items);
    for (let i = 0; i < 2; i++) await send(FIRST_AGENT, `${items}?answer=201`, {}, 'POST');
    for (let i = 0; i < 3; i++) await send(FIRST_AGENT, `${items}?answer=429`);
    await send(FIRST_AGENT, `/api/v1/workspaces/${SITE.plane.workspace.slug}/work-items/VPAI-12/?delay=120`);

    // The second agent puts its token everywhere a client can.
    const token = TOKENS[SECOND_AGENT];
    await send(SECOND_AGENT, `/api/v1/users/me/?api_key=${token}`, {
      Authorization: `Bearer ${token}`,
      Cookie: `session-id=${token}`,
      'User-Agent': `agent-runtime/1.0 (${token})`,
      'X-Plane-Token': token,
      Referer: `https://${HOST}/?token=${token}`,
      'Proxy-Authorization': `Basic ${Buffer.from(`u:${token}`).toString('base64')}`,
    });
    await send(SECOND_AGENT, `/api/v1/${token}/`);
    await send(SECOND_AGENT, `/api/v1/users/me/?k=${token.replace(/_/g, '%5F').toUpperCase()}`);
    // A redirect repeats the query in its Location.
    await send(SECOND_AGENT, `/god-mode?t=${token}`);
    // 502: the upstream is down, and Caddy's error log (stderr) carries the request.
    await send(SECOND_AGENT, `/spaces/?t=${token}`);

    await send('admin', '/api/v1/users/me/');
    for (let i = 0; i < 2; i++) await send('stranger', '/api/v1/users/me/?answer=401');
    await send(undefined, '/');

    // Another Host (the TLS name is the site's): no site of this Caddy, logged by its default logger (stderr).
    await call(edge, '/', { 'X-Api-Key': token, host: token });

    const file = edge.options.auditLog.file;
    await until("the other Host's request in Caddy's own log", () => /"logger":"http\.log\.access"/.test(edge.caddy.log()));
    await until(
      'every call in the access log',
      () => fs.existsSync(file) && loggedCalls(fs.readFileSync(file, 'utf8')).length >= sent.length,
    );
    const trail = new AuditTrail(callersByHash(SITE_TOKENS));
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) trail.add(line);
    summary = trail.summary();
  });

  after(async () => {
    await edge?.caddy.stop();
    await stubs?.close();
    await api?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the calls got the answers the test meant (so the log has 2xx, 3xx, 4xx and 5xx to show)', () => {
    const statuses = new Set(sent.map((s) => s.status));
    for (const status of [200, 201, 301, 401, 429, 502]) assert.ok(statuses.has(status), `no ${status} among ${[...statuses].join(', ')}`);
  });

  it("no file of the log and no line of Caddy's own output holds a token, whole or its random part", () => {
    assert.deepEqual(tokensIn(logText(edge.logDir)), [], 'tokens in the access log');
    assert.deepEqual(tokensIn(edge.caddy.log()), [], "tokens in Caddy's stderr (the pod's log)");
    // The stderr filters are not idle: the 502's error entry and the other Host's request are there.
    // (assert.ok, not assert.match: a failure must not print the log.)
    assert.ok(/"logger":"http\.log\.error[^"]*".*"status":502/.test(edge.caddy.log()), "no 502 error entry in Caddy's stderr");
    assert.ok(/"logger":"http\.log\.access".*"host":"plane_api_REDACTED"/.test(edge.caddy.log()), 'no entry for the other Host');
  });

  it("each call is logged once, with Caddy's hash of its key (the same hash ops/audit computes), none without a key", () => {
    const logged = loggedCalls(fs.readFileSync(edge.options.auditLog.file, 'utf8'));
    for (const { marker, who, status } of sent) {
      const lines = logged.filter((l) => new URLSearchParams(l.uri.split('?')[1] ?? '').get('marker') === marker);
      assert.equal(lines.length, 1, `call ${marker}: ${lines.length} lines`);
      assert.equal(lines[0].status, status, `call ${marker}`);
      assert.equal(lines[0].hash, who ? keyHash(TOKENS[who]) : undefined, `call ${marker} by ${who ?? 'no key'}`);
    }
  });

  it('keeps what the trail is for, the tokens masked: method, path and query, status, duration, user agent', () => {
    const entries = fs
      .readFileSync(edge.options.auditLog.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, any>);
    const masked = entries.find((e) => e.request.uri.startsWith('/api/v1/users/me/?api_key='));
    assert.ok(masked, 'the call with the token in its query');
    // (assert.ok: a failure must not print what may hold a token.)
    assert.ok(/^\/api\/v1\/users\/me\/\?api_key=plane_api_REDACTED&marker=m\d+$/.test(masked.request.uri), 'the query token is masked');
    assert.ok(masked.user_agent === 'agent-runtime/1.0 (plane_api_REDACTED)', 'the User-Agent token is masked');
    assert.equal(masked.request.headers, undefined, 'request headers are not logged');
    assert.equal(masked.resp_headers, undefined, 'response headers are not logged');
    assert.ok(entries.every((e) => typeof e.duration === 'number' && typeof e.ts === 'number' && e.request.method));
  });

  it('the log file is readable by Caddy only (0600)', () => {
    assert.equal(fs.statSync(edge.options.auditLog.file).mode & 0o777, 0o600);
  });

  const callerOf = (name: string, hash?: string): CallerSummary => {
    const found = summary.callers.filter((c) => c.caller === name && (hash === undefined || c.keyHash === hash));
    assert.equal(found.length, 1, `${name}: ${found.length} summaries among ${summary.callers.map((c) => c.caller).join(', ')}`);
    return found[0];
  };

  it('ops/audit attributes every call to its agent, with its statuses, 429s and endpoints', () => {
    const first = callerOf(FIRST_AGENT);
    assert.equal(first.kind, 'known');
    assert.equal(first.calls, 11);
    assert.deepEqual(first.statuses, { '200': 6, '201': 2, '429': 3 });
    assert.equal(first.rateLimited, 3);
    assert.deepEqual(first.methods, { GET: 9, POST: 2 });
    assert.deepEqual(first.paths.slice(0, 3), [
      { method: 'GET', path: `/api/v1/workspaces/${SITE.plane.workspace.slug}/projects/{id}/work-items/`, calls: 8 },
      { method: 'POST', path: `/api/v1/workspaces/${SITE.plane.workspace.slug}/projects/{id}/work-items/`, calls: 2 },
      { method: 'GET', path: `/api/v1/workspaces/${SITE.plane.workspace.slug}/work-items/{key}/`, calls: 1 },
    ]);
    // The slow call (120 ms upstream) is the maximum; most are fast.
    assert.ok(first.latencyMs.max >= 120, `max ${first.latencyMs.max} ms`);
    assert.ok(first.latencyMs.p50 < 120, `p50 ${first.latencyMs.p50} ms`);

    const second = callerOf(SECOND_AGENT);
    assert.equal(second.calls, 5);
    assert.deepEqual(second.statuses, { '200': 3, '301': 1, '502': 1 });
    assert.equal(second.serverErrors, 1);

    assert.equal(callerOf('admin').calls, 1);
    const stranger = callerOf('unknown', keyHash(TOKENS.stranger));
    assert.equal(stranger.kind, 'unknown-key');
    assert.deepEqual(stranger.statuses, { '401': 2 });
    assert.equal(callerOf('no key').calls, 1);
    assert.equal(summary.calls, sent.length);
    assert.equal(summary.otherLines, 0);
  });

  it('--agent keeps one caller, --since drops what came before', () => {
    const lines = fs.readFileSync(edge.options.auditLog.file, 'utf8').split('\n');
    const only = new AuditTrail(callersByHash(SITE_TOKENS), { caller: SECOND_AGENT });
    for (const line of lines) only.add(line);
    assert.deepEqual(
      only.summary().callers.map((c) => [c.caller, c.calls]),
      [[SECOND_AGENT, 5]],
    );
    const later = new AuditTrail(callersByHash(SITE_TOKENS), { since: new Date(Date.now() + 1000) });
    for (const line of lines) later.add(line);
    assert.equal(later.summary().calls, 0);
  });
});

describe("the audit trail's retention: what Caddy applies", () => {
  it("the site's edge.auditLog reaches Caddy's adapted config: roll size, count, days, a daily roll, gzip", () => {
    const dir = tempDir('audit-adapt');
    try {
      const upstreams = Object.fromEntries(
        ['web', 'space', 'admin', 'live', 'api', 'objectStore'].map((n) => [n, { host: '127.0.0.1', port: 9 }]),
      ) as unknown as PlaneUpstreams;
      const siteOptions = siteCaddyfileOptions(SITE, upstreams);
      const file = path.join(dir, 'Caddyfile');
      fs.writeFileSync(file, renderCaddyfile({ ...siteOptions, tls: { mode: 'internal' }, auditLog: logInto(dir, siteOptions.auditLog) }));
      const adapted = caddy(['adapt', '--config', file, '--adapter', 'caddyfile'], dir, { XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir });
      assert.equal(adapted.code, 0, adapted.output);
      const config = JSON.parse(adapted.output.slice(adapted.output.indexOf('{')));
      const writers = Object.values(config.logging.logs as Record<string, any>).map((l) => l.writer);
      const fileWriter = writers.find((w) => w.output === 'file');
      const rolling = auditLogRolling(SITE.edge.auditLog);
      assert.deepEqual(
        {
          size: fileWriter.roll_size_mb,
          keep: fileWriter.roll_keep,
          days: fileWriter.roll_keep_days,
          at: fileWriter.roll_at,
          compression: fileWriter.roll_compression,
          mode: fileWriter.mode,
        },
        {
          size: rolling.rollSizeMiB,
          keep: rolling.rollKeep,
          days: SITE.edge.auditLog.retentionDays,
          at: ['00:00'],
          compression: 'gzip',
          mode: '0600',
        },
      );
      // The bound holds as Caddy reads it: the current file, the kept ones and one being compressed.
      assert.ok((fileWriter.roll_keep + 2) * fileWriter.roll_size_mb <= SITE.edge.auditLog.maxSizeMiB);
      assert.deepEqual(writers.map((w) => w.output).sort(), ['file', 'stderr'], "one file (the trail) and Caddy's own log on stderr");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a small edge.auditLog rolls the file at its size, gzips the rolled one, keeps roll_keep of them, and ops/audit reads them all', async () => {
    // 3 MiB over 1 day: files of 1 MiB, one rolled file kept.
    const site = siteWith((s) => {
      s.edge.auditLog = { retentionDays: 1, maxSizeMiB: 3 };
    });
    assert.deepEqual(auditLogRolling(site.edge.auditLog), { rollSizeMiB: 1, rollKeep: 1, keepDays: 1 });
    const dir = tempDir('audit-roll');
    const stubs = await startStubs(['web', 'admin', 'live', 'objectStore']);
    const api = await startApi();
    const edge = await startEdge(site, dir, stubs, api.port);
    try {
      // A long User-Agent (it is logged) makes each line about 6 KiB: 1 MiB is some 170 calls.
      const agent = `agent-runtime/1.0 ${'x'.repeat(6000)}`;
      const token = generateValue('plane-api-token');
      const calls = 400;
      for (let i = 0; i < calls; i++) await call(edge, `/api/v1/users/me/?n=${i}`, { 'X-Api-Key': token, 'User-Agent': agent });
      const rolled = () => fs.readdirSync(edge.logDir).filter((n) => n !== path.basename(edge.options.auditLog.file));
      // Rolled twice at least (400 × 6 KiB > 2 MiB): one rolled file is kept, compressed.
      await until('the rolled file compressed, the older ones removed', () => rolled().length === 1 && rolled()[0].endsWith('.gz'));
      assert.match(rolled()[0], /^access-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}-size\.log\.gz$/);
      for (const name of fs.readdirSync(edge.logDir)) {
        const size = fs.statSync(path.join(edge.logDir, name)).size;
        assert.ok(size <= 1024 * 1024, `${name}: ${size} bytes, above the 1 MiB roll size`);
      }
      // What the kept files hold is read back whole: the newest calls, none cut.
      const listing = fs.readdirSync(edge.logDir).join('\n');
      const files = trailFiles(listing, path.basename(edge.options.auditLog.file));
      assert.deepEqual(
        files.map((f) => f.gzip),
        [true, false],
      );
      const trail = new AuditTrail(callersByHash({ [FIRST_AGENT]: token }));
      for (const file of files) {
        const bytes = fs.readFileSync(path.join(edge.logDir, file.name));
        for (const line of (file.gzip ? gunzipSync(bytes) : bytes).toString('utf8').split('\n')) trail.add(line);
      }
      const kept = trail.summary();
      assert.equal(kept.otherLines, 0);
      assert.deepEqual(
        kept.callers.map((c) => c.caller),
        [FIRST_AGENT],
      );
      // The newest calls, in one unbroken run up to the last: the oldest file went whole.
      const numbers = logText(edge.logDir)
        .split('\n')
        .filter(Boolean)
        .map((line) => Number(new URLSearchParams((JSON.parse(line).request.uri as string).split('?')[1]).get('n')))
        .sort((a, b) => a - b);
      assert.equal(numbers.length, kept.calls);
      assert.ok(kept.calls < calls && kept.calls > 100, `${kept.calls} calls kept of ${calls}`);
      assert.deepEqual(
        numbers,
        Array.from({ length: kept.calls }, (_, i) => calls - kept.calls + i),
      );
      assert.ok(!logText(edge.logDir).toLowerCase().includes(token.slice('plane_api_'.length)), 'a token in the rolled log');
    } finally {
      await edge.caddy.stop();
      await stubs.close();
      await api.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
