/**
 * The audit trail as `plane-k3s audit` shows it, from the lines of Caddy's access log: who called what
 * (each X-Api-Key is logged as the first 8 hex digits of its SHA-256, Caddy's `hash` log filter), with
 * the statuses, latency and 429s per caller. Pure: lines and tokens in, a summary out (./audit-log
 * reads them from the cluster), so it is tested on a real Caddy's log without a cluster.
 */
import { createHash } from 'node:crypto';
import { API_KEY_HASH_FIELD } from '../lib/edge/caddyfile';

/** One request of the access log, as far as the audit needs it. */
export interface AccessEntry {
  /** When Caddy logged it (the request's end), ms since the epoch. */
  readonly time: number;
  readonly method: string;
  /** The request URI as logged (tokens masked by Caddy's filters), query included. */
  readonly uri: string;
  readonly status: number;
  readonly durationMs: number;
  /** The hash of its X-Api-Key; none without the header. */
  readonly keyHash?: string;
}

/** The hash Caddy's `hash` log filter writes for a value: the first 4 bytes of its SHA-256, in hex. */
export function keyHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 8);
}

/** An access-log line as an entry; undefined for anything else (Caddy's other messages, a cut line). */
export function parseAccessLine(line: string): AccessEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const request = record.request as Record<string, unknown> | undefined;
  const { ts, status, duration } = record;
  if (typeof request !== 'object' || request === null || typeof ts !== 'number' || typeof status !== 'number') return undefined;
  const { method, uri } = request;
  if (typeof method !== 'string' || typeof uri !== 'string') return undefined;
  const hash = record[API_KEY_HASH_FIELD];
  return {
    time: ts * 1000,
    method,
    uri,
    status,
    durationMs: typeof duration === 'number' ? duration * 1000 : 0,
    keyHash: typeof hash === 'string' ? hash : undefined,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A work item's key, as Plane's API takes it (PROJECT-42). */
const WORK_ITEM_KEY = /^[A-Za-z][A-Za-z0-9]{0,11}-\d+$/;
/** A long opaque id: letters and digits mixed, 16 characters or more. */
const OPAQUE = /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{16,}$/;

/**
 * A path with its ids as placeholders, so calls group by endpoint: /api/v1/workspaces/javisi/projects/
 * <uuid>/work-items/VPAI-12/?expand=x → /api/v1/workspaces/javisi/projects/{id}/work-items/{key}/. The
 * query is dropped.
 */
export function pathPattern(uri: string): string {
  const path = uri.split(/[?#]/, 1)[0] || '/';
  return path
    .split('/')
    .map((segment) => {
      if (UUID.test(segment)) return '{id}';
      if (/^\d+$/.test(segment)) return '{n}';
      if (WORK_ITEM_KEY.test(segment)) return '{key}';
      if (OPAQUE.test(segment)) return '{id}';
      return segment;
    })
    .join('/');
}

/** Who made a call: an agent id or admin (its token's hash is known), an unknown key, or no key at all. */
export type CallerKind = 'known' | 'unknown-key' | 'no-key';

/** The calls of one caller. */
export interface CallerSummary {
  /** The agent id, admin, `unknown` or `no key`. */
  readonly caller: string;
  readonly kind: CallerKind;
  /** The key's hash as logged (none for `no key`). */
  readonly keyHash?: string;
  readonly calls: number;
  /** First and last call, ISO 8601 UTC. */
  readonly first: string;
  readonly last: string;
  /** Calls per method, most first. */
  readonly methods: Readonly<Record<string, number>>;
  /** Calls per status, in status order. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Calls answered 429 (Plane's rate limit). */
  readonly rateLimited: number;
  /** Calls answered 5xx. */
  readonly serverErrors: number;
  /** Time Caddy took from the request to the end of the answer, upstream included (nearest rank). */
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly max: number };
  /** The most called endpoints, `method path`, most first (at most `maxPaths`). */
  readonly paths: readonly { readonly method: string; readonly path: string; readonly calls: number }[];
  /** Endpoints left out of `paths`. */
  readonly otherPaths: number;
}

export interface AuditSummary {
  /** Calls from then on only (ISO 8601); none: the whole trail. */
  readonly since?: string;
  /** Only this caller. */
  readonly caller?: string;
  /** Calls counted (after `since` and `caller`). */
  readonly calls: number;
  /** Lines that were not access-log entries (Caddy's own messages, a line cut by a roll). */
  readonly otherLines: number;
  /** Earliest and latest call counted, ISO 8601 UTC. */
  readonly from?: string;
  readonly to?: string;
  /** Known callers first (by name), then unknown keys, then calls without a key. */
  readonly callers: readonly CallerSummary[];
}

export interface AuditOptions {
  /** Count calls logged at or after this time only. */
  readonly since?: Date;
  /** Count only this caller's calls (an agent id or admin). */
  readonly caller?: string;
  /** Endpoints listed per caller. @default 10 */
  readonly maxPaths?: number;
}

/** The name of the calls without an X-Api-Key (the web app's, with its session cookie, or anonymous). */
export const NO_KEY = 'no key';
/** The name of calls whose key matches no token of the site's Secrets (an old or foreign token). */
export const UNKNOWN_KEY = 'unknown';

interface Tally {
  caller: string;
  kind: CallerKind;
  keyHash?: string;
  calls: number;
  first: number;
  last: number;
  methods: Map<string, number>;
  statuses: Map<number, number>;
  paths: Map<string, number>;
  durations: number[];
}

const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);

/** The value at percentile `p` of sorted numbers (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Callers by key hash, from their tokens (`admin` and each agent id → its PLANE_API_KEY). Two tokens
 * with the same 8-digit hash (one chance in 2^32 per pair) cannot be told apart: both names are kept.
 */
export function callersByHash(tokens: Readonly<Record<string, string>>): Map<string, string> {
  const byHash = new Map<string, string>();
  for (const [caller, token] of Object.entries(tokens)) {
    const hash = keyHash(token);
    const already = byHash.get(hash);
    byHash.set(hash, already ? `${already}|${caller}` : caller);
  }
  return byHash;
}

/** Adds lines of the access log one by one (any order, any number of files), then sums them up. */
export class AuditTrail {
  private readonly tallies = new Map<string, Tally>();
  private otherLines = 0;

  constructor(
    private readonly callers: ReadonlyMap<string, string>,
    private readonly options: AuditOptions = {},
  ) {}

  /** Who a logged key hash is. */
  callerOf(hash: string | undefined): { caller: string; kind: CallerKind } {
    if (hash === undefined) return { caller: NO_KEY, kind: 'no-key' };
    const known = this.callers.get(hash);
    return known ? { caller: known, kind: 'known' } : { caller: UNKNOWN_KEY, kind: 'unknown-key' };
  }

  add(line: string): void {
    if (line.trim() === '') return;
    const entry = parseAccessLine(line);
    if (!entry) {
      this.otherLines += 1;
      return;
    }
    this.addEntry(entry);
  }

  addEntry(entry: AccessEntry): void {
    if (this.options.since && entry.time < this.options.since.getTime()) return;
    const { caller, kind } = this.callerOf(entry.keyHash);
    if (this.options.caller !== undefined && caller !== this.options.caller) return;
    // Unknown keys apart from each other: one leaked or stale token is one line.
    const id = kind === 'unknown-key' ? `${caller}:${entry.keyHash}` : caller;
    let tally = this.tallies.get(id);
    if (!tally) {
      tally = {
        caller,
        kind,
        keyHash: entry.keyHash,
        calls: 0,
        first: entry.time,
        last: entry.time,
        methods: new Map(),
        statuses: new Map(),
        paths: new Map(),
        durations: [],
      };
      this.tallies.set(id, tally);
    }
    tally.calls += 1;
    tally.first = Math.min(tally.first, entry.time);
    tally.last = Math.max(tally.last, entry.time);
    bump(tally.methods, entry.method);
    bump(tally.statuses, entry.status);
    bump(tally.paths, `${entry.method} ${pathPattern(entry.uri)}`);
    tally.durations.push(entry.durationMs);
  }

  summary(): AuditSummary {
    const maxPaths = this.options.maxPaths ?? 10;
    const order: Record<CallerKind, number> = { known: 0, 'unknown-key': 1, 'no-key': 2 };
    const tallies = [...this.tallies.values()].sort(
      (a, b) => order[a.kind] - order[b.kind] || a.caller.localeCompare(b.caller) || b.calls - a.calls,
    );
    const callers = tallies.map((t): CallerSummary => {
      const durations = [...t.durations].sort((a, b) => a - b);
      const paths = [...t.paths.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      const count = (test: (status: number) => boolean) =>
        [...t.statuses.entries()].filter(([status]) => test(status)).reduce((sum, [, n]) => sum + n, 0);
      return {
        caller: t.caller,
        kind: t.kind,
        keyHash: t.keyHash,
        calls: t.calls,
        first: new Date(t.first).toISOString(),
        last: new Date(t.last).toISOString(),
        methods: Object.fromEntries([...t.methods.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
        statuses: Object.fromEntries([...t.statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n])),
        rateLimited: count((s) => s === 429),
        serverErrors: count((s) => s >= 500),
        latencyMs: {
          p50: round(percentile(durations, 50)),
          p95: round(percentile(durations, 95)),
          max: round(durations[durations.length - 1] ?? 0),
        },
        paths: paths.slice(0, maxPaths).map(([key, calls]) => {
          const space = key.indexOf(' ');
          return { method: key.slice(0, space), path: key.slice(space + 1), calls };
        }),
        otherPaths: Math.max(0, paths.length - maxPaths),
      };
    });
    const calls = callers.reduce((sum, c) => sum + c.calls, 0);
    const firsts = tallies.map((t) => t.first);
    const lasts = tallies.map((t) => t.last);
    return {
      since: this.options.since?.toISOString(),
      caller: this.options.caller,
      calls,
      otherLines: this.otherLines,
      from: firsts.length ? new Date(Math.min(...firsts)).toISOString() : undefined,
      to: lasts.length ? new Date(Math.max(...lasts)).toISOString() : undefined,
      callers,
    };
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The summary for people: a block per caller. */
export function renderAudit(summary: AuditSummary): string {
  const lines: string[] = [];
  const span = summary.from ? `${summary.from} → ${summary.to}` : 'no call';
  const calls = (n: number) => `${n} call${n === 1 ? '' : 's'}`;
  lines.push(
    `${calls(summary.calls)}${summary.caller ? ` by ${summary.caller}` : ''}${summary.since ? ` since ${summary.since}` : ''} (${span})`,
  );
  for (const c of summary.callers) {
    const who = c.kind === 'known' ? c.caller : c.kind === 'unknown-key' ? `unknown key ${c.keyHash}` : `${NO_KEY} (web app or anonymous)`;
    lines.push('');
    lines.push(
      `${who}${c.kind === 'known' ? ` (key ${c.keyHash})` : ''}: ${calls(c.calls)}, ${c.rateLimited} × 429, ${c.serverErrors} × 5xx, ` +
        `latency p50 ${c.latencyMs.p50} ms, p95 ${c.latencyMs.p95} ms, max ${c.latencyMs.max} ms`,
    );
    lines.push(`  between   ${c.first} and ${c.last}`);
    lines.push(
      `  methods   ${Object.entries(c.methods)
        .map(([m, n]) => `${m} ${n}`)
        .join(', ')}`,
    );
    lines.push(
      `  statuses  ${Object.entries(c.statuses)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ')}`,
    );
    const width = Math.max(...c.paths.map((p) => String(p.calls).length));
    c.paths.forEach((p, i) =>
      lines.push(`  ${i === 0 ? 'paths   ' : '        '}  ${String(p.calls).padStart(width)}  ${p.method} ${p.path}`),
    );
    if (c.otherPaths > 0) lines.push(`            ${c.otherPaths} other endpoints`);
  }
  if (summary.otherLines > 0) lines.push('', `${summary.otherLines} lines of the log were not access entries (skipped)`);
  return `${lines.join('\n')}\n`;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * --since: a duration back from `now` (90m, 24h, 7d, 2w) or a date (2026-05-01, midnight UTC) or a time
 * with its zone (2026-05-01T08:00:00Z, 2026-05-01T10:00+02:00). Throws one line naming what is expected.
 */
export function parseSince(value: string, now: Date = new Date()): Date {
  const expected =
    `--since: expected a duration such as 90m, 24h, 7d or 2w, or a date such as 2026-05-01 or 2026-05-01T08:00:00Z, ` +
    `got ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  const duration = /^(\d{1,6})([mhdw])$/.exec(value);
  if (duration) {
    const amount = Number(duration[1]);
    if (amount === 0) throw new Error(`--since: ${value} is no time at all: give a duration above 0`);
    return new Date(now.getTime() - amount * UNITS[duration[2]]);
  }
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const time = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!date && !time) {
    if (/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(value))
      throw new Error(`--since: ${value} has no time zone: add Z (UTC) or an offset such as +02:00`);
    throw new Error(expected);
  }
  const parsed = new Date(date ? `${value}T00:00:00Z` : value);
  const [, year, month, day] = (date ?? time) as RegExpExecArray;
  // Date accepts 2026-02-30 as 2 March: the day must exist.
  const calendar = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (
    Number.isNaN(parsed.getTime()) ||
    calendar.getUTCFullYear() !== Number(year) ||
    calendar.getUTCMonth() !== Number(month) - 1 ||
    calendar.getUTCDate() !== Number(day)
  ) {
    throw new Error(`--since: ${value} is not a date of the calendar`);
  }
  if (parsed.getTime() > now.getTime()) throw new Error(`--since: ${value} is in the future (now is ${now.toISOString()})`);
  return parsed;
}

/** A file of the trail: the current one, or a rolled one (with when it was rolled). */
export interface TrailFile {
  readonly name: string;
  /** When Caddy rolled it (every entry in it is older); none for the current file. */
  readonly rolledAt?: Date;
  readonly gzip: boolean;
}

/**
 * The trail's files in a listing of its folder (one name a line), oldest first: the rolled ones, named
 * <stem>-<UTC time>-<reason><ext>[.gz] by Caddy's file output, then the current file. With `since`,
 * rolled files whose every entry is older are left out.
 */
export function trailFiles(listing: string, fileName: string, since?: Date): TrailFile[] {
  const dot = fileName.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [fileName.slice(0, dot), fileName.slice(dot)] : [fileName, ''];
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rolled = new RegExp(
    `^${escape(stem)}-(\\d{4}-\\d{2}-\\d{2})T(\\d{2})-(\\d{2})-(\\d{2}\\.\\d{3})-[A-Za-z0-9_]+${escape(ext)}(\\.gz)?$`,
  );
  const files: TrailFile[] = [];
  let current: TrailFile | undefined;
  for (const name of listing.split('\n').map((l) => l.trim())) {
    if (name === fileName) {
      current = { name, gzip: false };
      continue;
    }
    const match = rolled.exec(name);
    if (!match) continue;
    const rolledAt = new Date(`${match[1]}T${match[2]}:${match[3]}:${match[4]}Z`);
    // The roll's time is written to the millisecond, after the file's last entry: a second of margin.
    if (since && rolledAt.getTime() + 1000 < since.getTime()) continue;
    files.push({ name, rolledAt, gzip: match[5] !== undefined });
  }
  // A file being compressed is there twice, whole and as a growing .gz: the whole one is read.
  const names = new Set(files.map((f) => f.name));
  const whole = files.filter((f) => !(f.gzip && names.has(f.name.slice(0, -'.gz'.length))));
  whole.sort((a, b) => (a.rolledAt as Date).getTime() - (b.rolledAt as Date).getTime() || (a.name < b.name ? -1 : 1));
  return current ? [...whole, current] : whole;
}
