/**
 * Plane's real backend of a supported release (lib/config/plane-releases.ts), as the developer points the
 * suites at it (never in CI): the variables, the provisioning as its Job runs it, and the API.
 *
 *   PLANE_TEST_MANAGE     a command that runs Plane's `manage.py` with the backend's environment
 *   PLANE_TEST_BASE_URL   the api, e.g. http://127.0.0.1:8000
 */
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_PLANE_RELEASE, planeRelease, SUPPORTED_PLANE_TAGS } from '../../lib/config/plane-releases';
import { agentTokenVariable } from '../../lib/plane/provisioning';
import { find, Manifest, REPO_ROOT, siteWith, synth } from '../helpers';
import { Forward } from '../../ops/kube';
import { PlaneApi } from '../../ops/plane-api';

export const MANAGE = process.env.PLANE_TEST_MANAGE;
export const BASE_URL = process.env.PLANE_TEST_BASE_URL?.replace(/\/$/, '');
export const skip =
  !MANAGE || !BASE_URL ? "no Plane backend given (set PLANE_TEST_MANAGE and PLANE_TEST_BASE_URL, see the file's header)" : false;

/**
 * The release the backend runs, as its /api/instances/ reports it (register_instance sets it from
 * APP_VERSION at each api start): the suites synthesize the site at that tag, so the spec they provision
 * is the one dist/ would give that release. Without a backend, the default release.
 */
function backendRelease(): string {
  if (skip) return DEFAULT_PLANE_RELEASE;
  const fetchVersion =
    'fetch(process.argv[1] + "/api/instances/").then((r) => r.json()).then((b) => console.log(b.instance.current_version))';
  const run = spawnSync(process.execPath, ['-e', fetchVersion, BASE_URL as string], { encoding: 'utf8', timeout: 60_000 });
  const version = run.stdout.trim();
  if (run.status !== 0 || !version) throw new Error(`${BASE_URL}/api/instances/ gave no current_version: ${run.stderr.slice(-300)}`);
  if (!SUPPORTED_PLANE_TAGS.includes(version)) {
    throw new Error(
      `the backend runs Plane ${version}, not a supported release (${SUPPORTED_PLANE_TAGS.join(', ')}): check its code, then add it to lib/config/plane-releases.ts`,
    );
  }
  return version;
}

export const RELEASE = planeRelease(backendRelease());
/** dist/'s manifests for the backend's release. */
export const manifests = synth(
  siteWith((s) => {
    s.images.plane.tag = RELEASE.tag;
  }),
);
const files = find(manifests, 'ConfigMap', 'plane-provisioning-files').data as Record<string, string>;
export const spec = JSON.parse(files['users.json']);
const MODULE_DIR = path.join(REPO_ROOT, 'lib', 'plane', 'provision');

/** The backend's database as libpq reads it (PLANE_TEST_PG*), for the suites that back it up and restore it. */
export const database = {
  PGHOST: process.env.PLANE_TEST_PGHOST,
  PGPORT: process.env.PLANE_TEST_PGPORT,
  PGUSER: process.env.PLANE_TEST_PGUSER,
  PGDATABASE: process.env.PLANE_TEST_PGDATABASE,
  PGPASSWORD: process.env.PLANE_TEST_PGPASSWORD,
};
/** PostgreSQL's client tools and server of the backend's major (pg_dump, psql; initdb, pg_ctl for the scratch servers). */
export const PG_BIN = process.env.PLANE_TEST_PG_BIN;
/** Why a suite that needs the backend's database is skipped, or false. */
export const skipDatabase =
  skip ||
  (Object.values(database).some((v) => !v) || !PG_BIN
    ? "no database of the Plane backend given (PLANE_TEST_PG*, PLANE_TEST_PG_BIN: see test/plane/backup.test.ts's header)"
    : false);
/** The backup Jobs' scripts and environment, as the synth puts them in their ConfigMaps for the backend's release. */
export const backupScripts = find(manifests, 'ConfigMap', 'plane-backup-files').data as Record<string, string>;
export const backupEnv = find(manifests, 'ConfigMap', 'plane-backup-env').data as Record<string, string>;

/** What Plane (v1.2.2 to v1.3.1) answers for an unknown or inactive X-Api-Key (DRF: authentication failed, 403). */
export const REFUSED = 403;
export const token = () => `plane_api_${randomBytes(16).toString('hex')}`;
export type Tokens = Record<string, string>;

export function newTokens(): Tokens {
  const tokens: Tokens = { PLANE_ADMIN_PASSWORD: randomBytes(16).toString('hex'), PLANE_ADMIN_API_KEY: token() };
  for (const agent of spec.agents) tokens[agentTokenVariable(agent.id)] = token();
  return tokens;
}

/** Runs the provisioning as the Job does (manage.py shell, the module on PYTHONPATH); never echoes the tokens. */
export function provision(
  tokens: Tokens,
  specOverride?: object,
  preamble = '',
  env: Record<string, string> = {},
  /** Another release's manage.py (an upgrade's target). */
  manage = MANAGE as string,
): { code: number; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-provision-'));
  const usersFile = path.join(dir, 'users.json');
  fs.writeFileSync(usersFile, JSON.stringify(specOverride ?? spec));
  const result = spawnSync(manage, ['shell', '--command', `${preamble}import plane_k3s_provision; plane_k3s_provision.main()`], {
    env: { ...process.env, ...env, ...tokens, PYTHONPATH: MODULE_DIR, PLANE_K3S_USERS_FILE: usersFile },
    encoding: 'utf8',
    timeout: 120_000,
  });
  fs.rmSync(dir, { recursive: true, force: true });
  let output = `${result.stdout}${result.stderr}`;
  for (const value of Object.values(tokens)) output = output.split(value).join('<secret>');
  return { code: result.status ?? -1, output };
}

/** fetch, once more if a kept-alive connection was closed by the server meanwhile (uvicorn closes idle ones after 5 s). */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

/** The backend's api as verify's and smoke's forward reaches the api Service (Host: what its ALLOWED_HOSTS has). */
export function planeApi(): PlaneApi {
  const url = new URL(BASE_URL as string);
  return new PlaneApi(new Forward('plane-api', Number(url.port), net.createServer(), new Set()), url.hostname, spec.workspace.slug);
}

/** A call to the API (JSON in and out); the body is never a token. */
export async function api(pathname: string, apiKey?: string, method = 'GET', json?: unknown): Promise<{ status: number; body: Manifest }> {
  const headers: Record<string, string> = apiKey ? { 'X-Api-Key': apiKey } : {};
  if (json !== undefined) headers['content-type'] = 'application/json';
  const response = await request(`${BASE_URL}${pathname}`, {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
    redirect: 'manual',
  });
  const text = await response.text();
  let body: Manifest = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { text: text.slice(0, 200) };
  }
  return { status: response.status, body };
}

/**
 * Runs Python in Plane's `manage.py shell` (the backend's models) and returns what it printed; for the
 * tests' own reads and for moving a row's clock. Never given a token.
 */
export function planeShell(code: string): string {
  const result = spawnSync(MANAGE as string, ['shell', '--command', code], { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`manage.py shell failed: ${result.stderr.slice(-400)}`);
  return result.stdout;
}

/** A managed token's row, by its label (plane-k3s:agent:<id>), newest first: no token value. */
export interface TokenRow {
  readonly active: boolean;
  readonly createdAt: string;
  readonly expiredAt: string | null;
  readonly lastUsed: string | null;
}

export function tokenRows(agentId: string): TokenRow[] {
  const out = planeShell(
    'import json; from plane.db.models import APIToken; ' +
      `print("ROWS=" + json.dumps([{"active": t.is_active, "createdAt": t.created_at.isoformat(), "expiredAt": t.expired_at and t.expired_at.isoformat(), "lastUsed": t.last_used and t.last_used.isoformat()} for t in APIToken.objects.filter(label="plane-k3s:agent:${agentId}").order_by("-created_at")]))`,
  );
  const line = out.split('\n').find((l) => l.startsWith('ROWS='));
  if (!line) throw new Error(`no token rows printed: ${out.slice(-200)}`);
  return JSON.parse(line.slice(5));
}

/** Moves an agent's managed tokens' creation back by `hours` (time passing, for lifetime and overlap). */
export function ageTokens(agentId: string, hours: number): void {
  planeShell(
    'import datetime; from plane.db.models import APIToken; ' +
      `[APIToken.objects.filter(pk=t.pk).update(created_at=t.created_at - datetime.timedelta(hours=${hours})) for t in APIToken.objects.filter(label="plane-k3s:agent:${agentId}")]`,
  );
}
