/**
 * The shared-PostgreSQL bootstrap Job's script (as the synth puts it in its ConfigMap, for a site with
 * `data.postgres.external.adminSecret`), against a real PostgreSQL 18 server that plays the VPS's shared
 * one: it makes Plane's role and database, a second run changes nothing, a wrong admin password fails
 * with one clear line, a changed Secret converges the password, and nothing else on the server moves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { find, Manifest, siteWith, synth, useExternal } from '../helpers';
import { DOC_COMMANDS } from '../readme';
import { PostgresServer } from './harness';

const manifests = synth(
  siteWith((s) => {
    useExternal(s, 'postgres', { address: '137.74.114.167', port: 5432, adminSecret: 'shared-postgres-admin' });
  }),
);
const script = find(manifests, 'ConfigMap', 'plane-postgres-bootstrap-files').data['bootstrap-postgres.sh'] as string;
const jobEnv = find(manifests, 'ConfigMap', 'plane-postgres-bootstrap-env').data as Record<string, string>;

describe('shared PostgreSQL bootstrap against a real PostgreSQL 18', { concurrency: 1 }, () => {
  let server: PostgresServer;
  let file: string;
  let planePassword = randomBytes(24).toString('hex');

  before(async () => {
    // The shared server: its own admin, and another application's database that must never move.
    server = await PostgresServer.start('postgres', 'postgres', 'legacy');
    server.sql('postgres', "CREATE ROLE litellm LOGIN PASSWORD 'x'");
    server.sql('postgres', 'CREATE DATABASE litellm OWNER litellm');
    server.sql('litellm', 'CREATE TABLE keys (id int PRIMARY KEY); INSERT INTO keys VALUES (1), (2)');
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'plane-pg-bootstrap-')), 'bootstrap-postgres.sh');
    fs.writeFileSync(file, script);
  });

  after(() => server?.stop());

  const run = (adminPassword = server.password) =>
    spawnSync('sh', [file], {
      encoding: 'utf8',
      env: {
        PATH: server.env().PATH,
        PGHOST: '127.0.0.1',
        PGPORT: String(server.port),
        PLANE_USER: jobEnv.PLANE_USER,
        PLANE_DATABASE: jobEnv.PLANE_DATABASE,
        ADMIN_USER: 'postgres',
        ADMIN_PASSWORD: adminPassword,
        PLANE_PASSWORD: planePassword,
      },
    });
  /** Everything the bootstrap could touch on the server: roles with their password hashes, databases and owners. */
  const serverState = () =>
    server.sql(
      'postgres',
      "SELECT string_agg(rolname || '=' || coalesce(rolpassword, '') || '/' || rolcanlogin, ',' ORDER BY rolname) FROM pg_authid;" +
        "SELECT string_agg(datname || ':' || pg_get_userbyid(datdba), ',' ORDER BY datname) FROM pg_database",
    );
  const planeLogsIn = (password = planePassword) =>
    spawnSync(path.join(server.bin, 'psql'), ['-X', '-Atc', "SELECT current_user || '@' || current_database()"], {
      encoding: 'utf8',
      env: { ...server.env(), PGUSER: jobEnv.PLANE_USER, PGDATABASE: jobEnv.PLANE_DATABASE, PGPASSWORD: password },
    }).stdout.trim();

  it("makes role plane and database plane owned by it, with the Secret's password", () => {
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /bootstrap: role plane and database plane are in place/);
    assert.equal(planeLogsIn(), 'plane@plane');
    assert.match(serverState(), /plane:plane/);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(planePassword), 'the password is never printed');
  });

  it('a second run changes nothing on the server', () => {
    server.sql('plane', 'CREATE TABLE IF NOT EXISTS work (id int); INSERT INTO work VALUES (42)');
    const before = serverState();
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.equal(serverState(), before);
    assert.equal(server.sql('plane', 'SELECT id FROM work'), '42');
  });

  it('a wrong admin password fails with one clear line, and changes nothing', () => {
    const before = serverState();
    const result = run('not-the-password');
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^bootstrap: cannot connect to 127\.0\.0\.1:\d+ as postgres: .*password authentication failed for user "postgres"$/m,
    );
    assert.match(result.stderr, /data\.postgres\.external\.adminSecret/);
    assert.equal(serverState(), before);
  });

  it('converges the password to a changed Secret, and touches nothing else', () => {
    const others = (state: string) =>
      state.split('\n').map((line) =>
        line
          .split(',')
          .filter((item) => !item.startsWith('plane='))
          .join(','),
      );
    const before = serverState();
    const old = planePassword;
    planePassword = randomBytes(24).toString('hex');
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /the password of role plane was set to the stack's Secret/);
    assert.equal(planeLogsIn(), 'plane@plane');
    assert.equal(planeLogsIn(old), '', 'the old password no longer works');
    assert.deepEqual(others(serverState()), others(before));
    assert.equal(server.sql('litellm', 'SELECT count(*) FROM keys'), '2');
    assert.equal(server.sql('plane', 'SELECT id FROM work'), '42');
  });
});

describe('shared PostgreSQL bootstrap in the manifests', () => {
  it("runs only with an admin Secret, with psql of the site's postgres image, and is let through to that server only", () => {
    const job = manifests.find((m) => m.kind === 'Job' && m.metadata.name.startsWith('plane-postgres-bootstrap-')) as Manifest;
    assert.equal(job.spec.template.spec.containers[0].image, siteWith().images.postgres);
    const env = job.spec.template.spec.containers[0].env as Manifest[];
    assert.deepEqual(env.find((e) => e.name === 'ADMIN_PASSWORD')?.valueFrom.secretKeyRef, {
      name: 'shared-postgres-admin',
      key: 'password',
    });
    assert.deepEqual(env.find((e) => e.name === 'PLANE_PASSWORD')?.valueFrom.secretKeyRef, { name: 'plane-postgres', key: 'password' });
    const policy = find(manifests, 'NetworkPolicy', 'plane-postgres-bootstrap');
    assert.deepEqual(policy.spec.egress, [{ to: [{ ipBlock: { cidr: '137.74.114.167/32' } }], ports: [{ port: 5432, protocol: 'TCP' }] }]);
    // The README's re-run command selects this Job by its label.
    const selector = /-l (\S+)/.exec(DOC_COMMANDS.postgresBootstrapRerun())?.[1];
    assert.equal(`app.kubernetes.io/name=${job.metadata.labels['app.kubernetes.io/name']}`, selector);
    const without = synth(
      siteWith((s) => {
        useExternal(s, 'postgres', { address: '137.74.114.167', port: 5432 });
      }),
    );
    assert.equal(without.filter((m) => m.metadata.name.startsWith('plane-postgres-bootstrap')).length, 0);
    assert.equal(synth().filter((m) => m.metadata.name.startsWith('plane-postgres-bootstrap')).length, 0);
  });
});
