/**
 * Plane's side of the CLI tests: the real Plane v1.2.2 backend when the developer gives one (every
 * exchange can then be recorded), or what was recorded from it (test/cluster/fixtures/), replayed.
 * Recorded exchanges are keyed by method, path and who asked (admin, an agent, anonymous, an unknown
 * token): tokens differ between runs, the people do not. No token is ever written to a fixture.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { REPO_ROOT } from '../helpers';

export interface Exchange {
  readonly method: string;
  readonly path: string;
  /** `admin`, `agent:<id>`, `anonymous` or `unknown-token`. */
  readonly caller: string;
  readonly status: number;
  readonly body: string;
}

export interface PlaneFixture {
  /** Where and when it was recorded. */
  readonly recorded: { readonly plane: string; readonly at: string; readonly how: string };
  readonly exchanges: Exchange[];
  /** Log tails of the real api and worker processes (CRI-less, one line per entry), tokens masked. */
  readonly logs: { readonly api: string[]; readonly worker: string[]; readonly workerWithError: string[] };
}

export const FIXTURE_FILE = path.join(REPO_ROOT, 'test', 'cluster', 'fixtures', 'plane-v1.2.2-ops.json');

const TOKEN = /plane_api_[0-9a-f]{8,}/g;

export function maskTokens(text: string): string {
  return text.replace(TOKEN, 'plane_api_<masked>');
}

/** Who a token belongs to, from the tokens the test loaded into the cluster's Secrets. */
export type Callers = ReadonlyMap<string, string>;

function callerOf(callers: Callers, request: http.IncomingMessage): string {
  const key = request.headers['x-api-key'];
  if (typeof key !== 'string') return 'anonymous';
  return callers.get(key) ?? 'unknown-token';
}

function readBody(request: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

export interface PlaneSide {
  readonly port: number;
  readonly exchanges: Exchange[];
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A proxy to the real backend that records every exchange. */
export async function recordingProxy(baseUrl: string, callers: () => Callers): Promise<PlaneSide> {
  const target = new URL(baseUrl);
  const exchanges: Exchange[] = [];
  const server = http.createServer(async (request, response) => {
    const body = await readBody(request);
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          // Relayed as received (Caddy asks for gzip); recorded decoded.
          const raw = Buffer.concat(chunks);
          const text = (answer.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8');
          exchanges.push({
            method: request.method ?? 'GET',
            path: request.url ?? '/',
            caller: callerOf(callers(), request),
            status: answer.statusCode ?? 0,
            body: maskTokens(text),
          });
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          response.end(raw);
        });
      },
    );
    upstream.on('error', (error) => {
      response.writeHead(502);
      response.end(error.message);
    });
    upstream.end(body);
  });
  const port = await listen(server);
  return {
    port,
    exchanges,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers from the recording: the next recorded answer to the same method, path and caller (the last
 * one again when they are used up); 599 for anything never recorded, so a new call shows up at once.
 */
export async function replayServer(fixture: PlaneFixture, callers: () => Callers): Promise<PlaneSide> {
  const queues = new Map<string, Exchange[]>();
  for (const exchange of fixture.exchanges) {
    const key = `${exchange.method} ${exchange.path} ${exchange.caller}`;
    queues.set(key, [...(queues.get(key) ?? []), exchange]);
  }
  const served: Exchange[] = [];
  const server = http.createServer(async (request, response) => {
    await readBody(request);
    const key = `${request.method} ${request.url} ${callerOf(callers(), request)}`;
    const queue = queues.get(key);
    if (!queue?.length) {
      response.writeHead(599, { 'content-type': 'text/plain' });
      response.end(`not recorded: ${key}`);
      return;
    }
    const exchange = queue.length > 1 ? (queue.shift() as Exchange) : queue[0];
    served.push(exchange);
    response.writeHead(exchange.status, { 'content-type': 'application/json' });
    response.end(exchange.body);
  });
  const port = await listen(server);
  return {
    port,
    exchanges: served,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function readFixture(): PlaneFixture {
  return JSON.parse(fs.readFileSync(FIXTURE_FILE, 'utf8'));
}

/** Last `count` lines of a real log file, tokens masked. */
export function logTail(file: string, count: number): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-count).map(maskTokens);
}

/** Lines in the CRI log format kwok serves (`<time> stdout F <line>`), as a kubelet's log files hold them. */
export function criLog(lines: readonly string[]): string {
  const start = Date.now() - lines.length * 1000;
  return lines.map((line, i) => `${new Date(start + i * 1000).toISOString()} stdout F ${line}\n`).join('');
}

/** The log lines of an upgrade rehearsal's migration step, from a real run of the target's own code (test/plane/upgrade.test.ts). */
export interface RehearsalFixture {
  readonly recorded: { readonly plane: string; readonly at: string; readonly how: string };
  /** The release rehearsed. */
  readonly target: string;
  readonly logs: { readonly 'rehearse-migrate': readonly string[] };
}

export const REHEARSAL_FIXTURE = path.join(REPO_ROOT, 'test', 'cluster', 'fixtures', 'upgrade-rehearsal.json');

export function readRehearsalFixture(): RehearsalFixture {
  return JSON.parse(fs.readFileSync(REHEARSAL_FIXTURE, 'utf8')) as RehearsalFixture;
}
