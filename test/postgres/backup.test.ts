/**
 * The backup and restore scripts of the backup CronJobs (as the synth puts them in their ConfigMap),
 * run against a real PostgreSQL 18 server with the client tools of the same build: dump → change →
 * restore gives the dumped data back exactly; a corrupt dump is detected by the backup and refused by
 * the restore; retention keeps the newest; a restore refuses to run while Plane is connected.
 * Run by `npm run test:postgres` (installs the server on first use).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { find, synth } from '../helpers';
import { PostgresServer } from './harness';

const manifests = synth();
const scripts = find(manifests, 'ConfigMap', 'plane-backup-files').data as Record<string, string>;
const env = find(manifests, 'ConfigMap', 'plane-backup-env').data as Record<string, string>;

describe('backup and restore against a real PostgreSQL 18', { concurrency: 1 }, () => {
  let server: PostgresServer;
  let work: string;
  let backupDir: string;

  before(async () => {
    server = await PostgresServer.start(env.PGUSER, env.PGDATABASE);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-backup-'));
    backupDir = path.join(work, 'backup');
    for (const [file, content] of Object.entries(scripts)) fs.writeFileSync(path.join(work, file), content);
    // A small Plane-like schema: foreign keys, a sequence, JSON, a view, an index.
    server.sql(env.PGDATABASE, `
      CREATE TABLE workspaces (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), slug text UNIQUE NOT NULL);
      CREATE TABLE issues (id bigserial PRIMARY KEY, workspace_id uuid REFERENCES workspaces(id), name text NOT NULL, props jsonb, created_at timestamptz);
      INSERT INTO workspaces (slug) VALUES ('javisi');
      INSERT INTO issues (workspace_id, name, props, created_at)
        SELECT (SELECT id FROM workspaces), 'Issue ' || g, jsonb_build_object('n', g, 'labels', jsonb_build_array('a', 'b')), '2026-11-01'::timestamptz + g * interval '1 min'
        FROM generate_series(1, 3000) g;
      CREATE INDEX issues_name ON issues (name);
      CREATE VIEW open_issues AS SELECT * FROM issues WHERE (props->>'n')::int % 2 = 0;`);
  });

  after(() => {
    server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs one of the CronJobs' scripts as its container would: sh, the site's environment, libpq's. */
  const run = (script: string, extra: Record<string, string> = {}, pathFirst?: string) => spawnSync('sh', [path.join(work, script)], {
    encoding: 'utf8',
    env: server.env({ BACKUP_DIR: backupDir, BACKUP_KEEP: env.BACKUP_KEEP, ...extra, ...(pathFirst ? { PATH: `${pathFirst}:${server.env().PATH}` } : {}) }),
  });
  const fingerprint = () => server.sql(env.PGDATABASE,
    "SELECT (SELECT count(*) FROM issues) || ':' || (SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM issues i) || ':' || (SELECT count(*) FROM open_issues) || ':' || (SELECT last_value FROM issues_id_seq)");
  const dumps = () => fs.readdirSync(path.join(backupDir, 'postgres')).sort();

  let original: string;

  it('dumps the database in custom format, checks it, and keeps the globals beside it', () => {
    original = fingerprint();
    const result = run('backup-postgres.sh');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^backup: plane-\d{8}T\d{6}Z\.dump, \d+ bytes, \d+ entries; 1 dumps kept \(at most 14\)$/m);
    const files = dumps();
    assert.equal(files.length, 2, `${files}`);
    assert.match(files[0], /^globals-\d{8}T\d{6}Z\.sql$/);
    assert.match(files[1], /^plane-\d{8}T\d{6}Z\.dump$/);
    assert.match(fs.readFileSync(path.join(backupDir, 'postgres', files[0]), 'utf8'), /CREATE ROLE plane;/);
    assert.doesNotMatch(fs.readFileSync(path.join(backupDir, 'postgres', files[0]), 'utf8'), /SCRAM-SHA-256/, 'no password in the globals');
  });

  it('restores the dump exactly: rows changed later come back, tables added later are gone', () => {
    server.sql(env.PGDATABASE, "DELETE FROM issues WHERE id % 3 = 0; UPDATE issues SET name = 'changed' WHERE id < 10; CREATE TABLE added_by_a_later_migration (id int)");
    assert.notEqual(fingerprint(), original);
    const result = run('restore-postgres.sh', { RESTORE_DUMP: 'latest' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^restore: plane-\d{8}T\d{6}Z\.dump restored into plane$/m);
    assert.equal(fingerprint(), original);
    assert.equal(server.sql(env.PGDATABASE, "SELECT count(*) FROM pg_tables WHERE tablename = 'added_by_a_later_migration'"), '0');
    assert.equal(server.sql(env.PGDATABASE, "SELECT tableowner FROM pg_tables WHERE tablename = 'issues'"), env.PGUSER);
  });

  it('refuses to restore while another client (Plane) is connected, and changes nothing', async () => {
    const client = spawn(path.join(server.bin, 'psql'), ['-X', '-c', 'SELECT pg_sleep(20)'], { env: server.env(), stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && server.sql(env.PGDATABASE, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'") === '0'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      server.sql(env.PGDATABASE, "UPDATE issues SET name = 'while connected' WHERE id = 1");
      const result = run('restore-postgres.sh');
      assert.equal(result.status, 1);
      assert.match(result.stderr, /restore: 1 other connections to plane: stop Plane first/);
      assert.equal(server.sql(env.PGDATABASE, 'SELECT name FROM issues WHERE id = 1'), 'while connected');
    } finally {
      client.kill();
    }
  });

  it('detects a dump that cannot be read back: the backup keeps none, the restore refuses and changes nothing', () => {
    // pg_dump that writes a truncated file, as a full disk or a broken pipe would.
    const shim = fs.mkdtempSync(path.join(work, 'shim-'));
    fs.writeFileSync(path.join(shim, 'pg_dump'), `#!/bin/sh\n"${path.join(server.bin, 'pg_dump')}" "$@" || exit 1\nfor a; do case "$a" in --file=*) f="\${a#--file=}";; esac; done\ntruncate -s 2000 "$f"\n`, { mode: 0o755 });
    const before = dumps();
    const broken = run('backup-postgres.sh', {}, shim);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /backup: the dump of plane cannot be read back \(pg_restore --list failed\): not kept/);
    assert.deepEqual(dumps(), before, 'no partial or broken file left');

    // A corrupt file among the dumps (the newest), as a damaged disk would leave it.
    const corrupt = 'plane-20991231T235959Z.dump';
    fs.writeFileSync(path.join(backupDir, 'postgres', corrupt), fs.readFileSync(path.join(backupDir, 'postgres', before[1])).subarray(0, 3000));
    server.sql(env.PGDATABASE, "UPDATE issues SET name = 'kept' WHERE id = 2");
    const refused = run('restore-postgres.sh', { RESTORE_DUMP: 'latest' });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, new RegExp(`restore: ${corrupt} cannot be read \\(pg_restore --list failed\\): nothing was changed`));
    assert.equal(server.sql(env.PGDATABASE, 'SELECT name FROM issues WHERE id = 2'), 'kept');
    fs.rmSync(path.join(backupDir, 'postgres', corrupt));
  });

  it('lists the dumps there without touching the database', () => {
    const listed = run('restore-postgres.sh', { RESTORE_DUMP: 'list' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split('\n').map((l) => l.split(' ')[1]), dumps().filter((f) => f.startsWith('plane-')));
  });

  it('refuses a dump name outside the backup folder, or one that is not there', () => {
    assert.match(run('restore-postgres.sh', { RESTORE_DUMP: '../../etc/passwd' }).stderr, /RESTORE_DUMP must name a file of/);
    assert.match(run('restore-postgres.sh', { RESTORE_DUMP: 'plane-20000101T000000Z.dump' }).stderr, /is not in .*use latest/);
  });

  it('keeps the newest dumps only, with their globals', async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1100)); // names carry the second
      const result = run('backup-postgres.sh', { BACKUP_KEEP: '2' });
      assert.equal(result.status, 0, result.stderr);
    }
    const files = dumps();
    const kept = files.filter((f) => f.startsWith('plane-'));
    assert.equal(kept.length, 2, `${files}`);
    assert.deepEqual(files.filter((f) => f.startsWith('globals-')).map((f) => f.slice('globals-'.length, -'.sql'.length)), kept.map((f) => f.slice('plane-'.length, -'.dump'.length)));
  });
});
