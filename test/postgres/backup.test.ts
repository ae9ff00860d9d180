/**
 * The backup, restore and drill scripts of the backup CronJobs (as the synth puts them in their
 * ConfigMap), run as their containers would against a real PostgreSQL 18 server (client tools of the
 * same build) and the real restic of images.restic (tools/go-tools): dump → encrypted snapshot →
 * change → restore gives the dumped data back exactly, checked against what the backup recorded; nothing
 * readable rests on the backup volume; a restore refuses another Plane version and a connected client;
 * a drill passes on a good backup and fails on a truncated one or a tampered repository; an upgrade
 * rehearsal serves a copy to its migration step and drops it; retention keeps
 * the newest. Run by `npm run test:postgres` (installs the server and restic on first use).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseBackupList } from '../../ops/backups';
import { find, freePort, synth } from '../helpers';
import { backupToolsOnPath, PostgresServer, S3Server } from './harness';

const manifests = synth();
const scripts = find(manifests, 'ConfigMap', 'plane-backup-files').data as Record<string, string>;
const env = find(manifests, 'ConfigMap', 'plane-backup-env').data as Record<string, string>;
// A token in Plane's format, as api_tokens holds it in clear: it must never be readable on the volume.
const TOKEN = `plane_api_${randomBytes(16).toString('hex')}`;
const UPLOAD = `uploaded file ${randomBytes(8).toString('hex')}\n`;

describe('encrypted backups, restore and drill against a real PostgreSQL 18 and restic', { concurrency: 1 }, () => {
  let server: PostgresServer;
  let s3: S3Server;
  let work: string;
  let bin: string;
  let backupDir: string;
  const password = randomBytes(32).toString('hex');

  before(async () => {
    server = await PostgresServer.start(env.PGUSER, env.PGDATABASE);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-backup-'));
    fs.chmodSync(work, 0o755);
    backupDir = path.join(work, 'backup');
    fs.mkdirSync(path.join(work, 'scripts'));
    for (const [file, content] of Object.entries(scripts)) fs.writeFileSync(path.join(work, 'scripts', file), content);
    bin = backupToolsOnPath(work);
    // The object store (bucket uploads) and an off-site S3 service (bucket offsite), both real S3.
    s3 = await S3Server.start(bin, [env.UPLOADS_BUCKET, 'offsite']);
    fs.mkdirSync(path.join(s3.root, env.UPLOADS_BUCKET, 'workspace'));
    fs.writeFileSync(path.join(s3.root, env.UPLOADS_BUCKET, 'workspace', 'file.txt'), UPLOAD);
    // A small Plane-like schema: foreign keys, a sequence, JSON, a view, Django's migrations, a token.
    server.sql(
      env.PGDATABASE,
      `
      CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz DEFAULT now());
      INSERT INTO django_migrations (app, name) VALUES ('db', '0001_initial'), ('license', '0001_initial'), ('db', '0107_remove_issue_sort_order');
      CREATE TABLE workspaces (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), slug text UNIQUE NOT NULL);
      CREATE TABLE api_tokens (id serial PRIMARY KEY, token text NOT NULL);
      INSERT INTO api_tokens (token) VALUES ('${TOKEN}');
      CREATE TABLE issues (id bigserial PRIMARY KEY, workspace_id uuid REFERENCES workspaces(id), name text NOT NULL, props jsonb, created_at timestamptz);
      INSERT INTO workspaces (slug) VALUES ('javisi');
      INSERT INTO issues (workspace_id, name, props, created_at)
        SELECT (SELECT id FROM workspaces), 'Issue ' || g, jsonb_build_object('n', g, 'labels', jsonb_build_array('a', 'b')), '2026-11-01'::timestamptz + g * interval '1 min'
        FROM generate_series(1, 3000) g;
      CREATE INDEX issues_name ON issues (name);
      CREATE VIEW open_issues AS SELECT * FROM issues WHERE (props->>'n')::int % 2 = 0;`,
    );
  });

  after(() => {
    s3?.close();
    server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** A pod's scratch space: new for every run, as an emptyDir is. */
  const scratch = () => {
    const dir = fs.mkdtempSync(path.join(work, 'scratch-'));
    fs.chmodSync(dir, 0o777);
    return dir;
  };
  /** Runs one of the CronJobs' scripts (or a step's command) as its container would: the site's environment, the step's credentials only. */
  const run = (
    script: string | string[],
    scratchDir: string,
    extra: Record<string, string> = {},
    args: string[] = [],
    asNobody = false,
  ) => {
    const base = {
      ...env,
      PATH: `${bin}:${server.env().PATH}`,
      BACKUP_DIR: backupDir,
      WORK_DIR: scratchDir,
      RESTIC_REPOSITORY: path.join(backupDir, 'restic'),
      RESTIC_CACHE_DIR: path.join(scratchDir, '.restic-cache'),
      RCLONE_CONFIG_STORE_ENDPOINT: s3.endpoint,
    };
    const command =
      typeof script === 'string'
        ? ['sh', path.join(work, 'scripts', script), ...args]
        : script.map((a) => a.replace(/^\/work\b/, scratchDir));
    return asNobody
      ? spawnSync(
          'runuser',
          ['-u', 'nobody', '--', 'env', ...Object.entries({ ...base, ...extra }).map(([k, v]) => `${k}=${v}`), ...command],
          { encoding: 'utf8' },
        )
      : spawnSync(command[0], command.slice(1), { encoding: 'utf8', env: { ...base, ...extra } });
  };
  const withDatabase = (extra: Record<string, string> = {}) => ({
    PGPASSWORD: server.password,
    PGHOST: '127.0.0.1',
    PGPORT: String(server.port),
    ...extra,
  });
  const withKey = { RESTIC_PASSWORD: password };
  const withStore = () => ({
    RCLONE_CONFIG_STORE_ACCESS_KEY_ID: s3.accessKeyId,
    RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  const backupPod = find(manifests, 'CronJob', 'plane-backup').spec.jobTemplate.spec.template.spec;
  const copyUploads = backupPod.initContainers.find((c: { name: string }) => c.name === 'copy-uploads').command as string[];

  /** The backup Job: dump, the uploads copied from the store (the manifest's command), snapshot; its scratch space removed. */
  const backup = (extra: Record<string, string> = {}) => {
    const dir = scratch();
    const dump = run('dump-postgres.sh', dir, withDatabase(extra));
    assert.equal(dump.status, 0, dump.stderr);
    const copy = run(copyUploads, dir, withStore());
    assert.equal(copy.status, 0, copy.stderr);
    const snapshot = run('snapshot.sh', dir, { ...withKey, ...extra });
    fs.rmSync(dir, { recursive: true, force: true });
    return { dump, snapshot };
  };
  /** The restore Job: unpack, the database, then the uploads back into the store (only when the database went). */
  const restore = (choice: string, extra: Record<string, string> = {}) => {
    const dir = scratch();
    const unpack = run('unpack.sh', dir, { ...withKey, RESTORE_BACKUP: choice });
    if (unpack.status !== 0) return { unpack, database: undefined, uploads: undefined, dir };
    const database = run('restore-postgres.sh', dir, withDatabase({ RESTORE_BACKUP: choice, ...extra }));
    if (database.status !== 0) return { unpack, database, uploads: undefined, dir };
    const uploads = run('finish-restore.sh', dir, withStore());
    return { unpack, database, uploads, dir };
  };
  /** The drill Job: unpack and check the repository, a throw-away server as an unprivileged user, record. */
  const drill = () => {
    const dir = scratch();
    const unpack = run('unpack.sh', dir, withKey, ['drill']);
    if (unpack.status !== 0) return { status: unpack.status, output: unpack.stderr };
    // PostgreSQL refuses to run as root: as root here, the server's step runs as nobody (in the pod, every
    // step runs as the postgres image's user).
    const asNobody = process.getuid?.() === 0;
    if (asNobody) spawnSync('chown', ['-R', 'nobody', dir]);
    const check = run('drill-postgres.sh', dir, {}, [], asNobody);
    if (check.status !== 0) return { status: check.status, output: check.stderr };
    const record = run('finish-restore.sh', dir, {}, ['drill']);
    return { status: record.status, output: `${unpack.stdout}${check.stdout}${record.stdout}${record.stderr}` };
  };
  const fingerprint = () =>
    server.sql(
      env.PGDATABASE,
      "SELECT (SELECT count(*) FROM issues) || ':' || (SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM issues i) || ':' || (SELECT count(*) FROM open_issues) || ':' || (SELECT last_value FROM issues_id_seq)",
    );
  const list = () => {
    const listed = run('unpack.sh', scratch(), { ...withKey, RESTORE_BACKUP: 'list' });
    assert.equal(listed.status, 0, listed.stderr);
    return parseBackupList(listed.stdout.split('\n').filter(Boolean));
  };
  /** Every file under a folder, recursively. */
  const filesUnder = (dir: string): string[] =>
    fs
      .readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name));

  let original: string;

  it('encrypts one snapshot of the dump and the uploads, stamped with the Plane version and the migration head', () => {
    original = fingerprint();
    // What an earlier version of the stack left: unencrypted dumps on the volume.
    fs.mkdirSync(path.join(backupDir, 'postgres'), { recursive: true });
    fs.writeFileSync(path.join(backupDir, 'postgres', 'plane-20261130T023000Z.dump'), `PGDMP ${TOKEN}`);
    const { dump, snapshot } = backup();
    assert.match(
      dump.stdout,
      /^backup: dumped plane, \d+ bytes, \d+ entries, 4 tables; Plane v1\.2\.2, migration db\.0107_remove_issue_sort_order$/m,
    );
    assert.equal(snapshot.status, 0, snapshot.stderr);
    assert.match(snapshot.stdout, /^backup: made the encrypted repository .*\/restic \(keep a copy of its key off this server/m);
    assert.match(
      snapshot.stdout,
      /^backup: snapshot [0-9a-f]{8}, Plane v1\.2\.2, migration db\.0107_remove_issue_sort_order, \d+ bytes; 1 snapshots kept \(at most 14\)$/m,
    );
    assert.match(snapshot.stdout, /^backup: removed .*\/postgres, unencrypted files of an earlier version/m);
    const [entry] = list();
    assert.deepEqual([entry.planeVersion, entry.migration, entry.drilled], ['v1.2.2', 'db.0107_remove_issue_sort_order', undefined]);
  });

  it('leaves nothing readable on the backup volume: no dump, no token, no upload, files for its owner only', () => {
    const files = filesUnder(backupDir);
    assert.ok(files.length > 5, `${files}`);
    assert.deepEqual(fs.readdirSync(backupDir), ['restic']);
    for (const file of files) {
      const content = fs.readFileSync(file);
      assert.equal(content.includes('PGDMP'), false, `${file} holds a pg_dump header`);
      assert.equal(content.includes(TOKEN), false, `${file} holds the token in clear`);
      assert.equal(content.includes(UPLOAD.trim()), false, `${file} holds an upload in clear`);
      assert.equal(fs.statSync(file).mode & 0o077, 0, `${file} is readable by others`);
    }
    // Without the key, restic itself reads nothing.
    const wrongKey = run('unpack.sh', scratch(), { RESTIC_PASSWORD: 'not-the-key', RESTORE_BACKUP: 'list' });
    assert.notEqual(wrongKey.status, 0);
    assert.match(wrongKey.stderr, /wrong password|no key found/);
  });

  it('restores exactly: rows changed later come back, tables added later are gone, checked against the recorded counts', () => {
    server.sql(
      env.PGDATABASE,
      "DELETE FROM issues WHERE id % 3 = 0; UPDATE issues SET name = 'changed' WHERE id < 10; CREATE TABLE added_by_a_later_migration (id int)",
    );
    assert.notEqual(fingerprint(), original);
    // An upload lost from the store, and one added since the backup (a restore never deletes): through S3.
    const store = (...args: string[]) => run(['rclone', ...args], scratch(), withStore());
    assert.equal(store('deletefile', 'store:uploads/workspace/file.txt').status, 0);
    assert.equal(store('rcat', 'store:uploads/workspace/later.txt').status, 0);
    const { unpack, database, uploads: copied, dir } = restore('latest');
    assert.equal(copied?.status, 0, copied?.stderr);
    assert.match(copied?.stdout ?? '', /^restore: snapshot [0-9a-f]{8}'s uploads copied back into bucket uploads \(1 files\)$/m);
    assert.equal(store('cat', 'store:uploads/workspace/file.txt').stdout, UPLOAD, 'the lost upload is back in the store');
    assert.equal(
      store('lsf', 'store:uploads/workspace').stdout.split('\n').filter(Boolean).sort().join(' '),
      'file.txt later.txt',
      'nothing deleted',
    );
    assert.equal(unpack.status, 0, unpack.stderr);
    assert.match(unpack.stdout, /^restore: unpacked snapshot [0-9a-f]{8} \(v1\.2\.2, dumped \d{4}-\d\d-\d\dT/m);
    assert.equal(database?.status, 0, database?.stderr);
    assert.match(
      database?.stdout ?? '',
      /^restore: snapshot [0-9a-f]{8} restored into plane: Plane v1\.2\.2, migration db\.0107_remove_issue_sort_order, 4 tables with the recorded row counts$/m,
    );
    assert.equal(fingerprint(), original);
    assert.equal(server.sql(env.PGDATABASE, "SELECT count(*) FROM pg_tables WHERE tablename = 'added_by_a_later_migration'"), '0');
    assert.equal(server.sql(env.PGDATABASE, "SELECT tableowner FROM pg_tables WHERE tablename = 'issues'"), env.PGUSER);
    assert.equal(
      fs.readFileSync(path.join(dir, 'uploads', 'workspace', 'file.txt'), 'utf8'),
      UPLOAD,
      'the uploads are unpacked for the copy back',
    );
    // Twice in a row: the same result.
    const again = restore('latest');
    assert.equal(again.database?.status, 0, again.database?.stderr);
    assert.equal(fingerprint(), original);
  });

  it('refuses a backup of another Plane version, naming it, unless that version is given; nothing changed', () => {
    server.sql(env.PGDATABASE, "UPDATE issues SET name = 'after the backup' WHERE id = 1");
    const refused = restore('latest', { PLANE_VERSION: 'v1.2.3' });
    assert.equal(refused.database?.status, 1);
    assert.equal(refused.uploads, undefined, 'a refused database restore leaves the uploads alone');
    assert.match(
      refused.database?.stderr ?? '',
      /restore: snapshot [0-9a-f]{8} is a backup of Plane v1\.2\.2, this stack runs Plane v1\.2\.3: refused, nothing was changed .*RESTORE_ALLOW_VERSION=v1\.2\.2/,
    );
    assert.equal(server.sql(env.PGDATABASE, 'SELECT name FROM issues WHERE id = 1'), 'after the backup');
    const wrongOverride = restore('latest', { PLANE_VERSION: 'v1.2.3', RESTORE_ALLOW_VERSION: 'v1.2.1' });
    assert.equal(wrongOverride.database?.status, 1, "the override names the backup's version, not any");
    const allowed = restore('latest', { PLANE_VERSION: 'v1.2.3', RESTORE_ALLOW_VERSION: 'v1.2.2' });
    assert.equal(allowed.database?.status, 0, allowed.database?.stderr);
    assert.equal(fingerprint(), original);
  });

  it('refuses to restore while another client (Plane) is connected, and changes nothing', async () => {
    const client = spawn(path.join(server.bin, 'psql'), ['-X', '-c', 'SELECT pg_sleep(20)'], { env: server.env(), stdio: 'ignore' });
    try {
      for (
        let i = 0;
        i < 50 && server.sql(env.PGDATABASE, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'") === '0';
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      server.sql(env.PGDATABASE, "UPDATE issues SET name = 'while connected' WHERE id = 1");
      const { database } = restore('latest');
      assert.equal(database?.status, 1);
      assert.match(database?.stderr ?? '', /restore: 1 other connections to plane: stop Plane first/);
      assert.equal(server.sql(env.PGDATABASE, 'SELECT name FROM issues WHERE id = 1'), 'while connected');
    } finally {
      client.kill();
      server.sql(
        env.PGDATABASE,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()",
      );
    }
  });

  it('drills the latest backup in a throw-away server, records it, and does it again', () => {
    for (let i = 0; i < 2; i++) {
      const result = drill();
      assert.equal(result.status, 0, result.output);
      assert.match(
        result.output,
        /^drill: snapshot [0-9a-f]{8} restored into a scratch server in \d+ s: Plane v1\.2\.2, migration db\.0107_remove_issue_sort_order, 4 tables with the recorded row counts$/m,
      );
      assert.match(result.output, /^drill: snapshot [0-9a-f]{8} passed, recorded in /m);
    }
    const [latest] = list();
    assert.match(latest.drilled ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  /**
   * The rehearsal Job's first two steps: unpack, then the copy served on 127.0.0.1 (in the background, as
   * its container runs beside the migration's); the test stands where the migration step does.
   */
  const rehearsal = async (snapshotId: string, extra: Record<string, string> = {}) => {
    const dir = scratch();
    const signals = scratch();
    const unpack = run('unpack.sh', dir, { ...withKey, RESTORE_BACKUP: snapshotId }, ['rehearse']);
    assert.equal(unpack.status, 0, unpack.stderr);
    const port = await freePort();
    const asNobody = process.getuid?.() === 0;
    if (asNobody) spawnSync('chown', ['-R', 'nobody', dir, signals]);
    const stepEnv = { ...env, PATH: server.env().PATH, WORK_DIR: dir, REHEARSAL_SIGNALS: signals, REHEARSAL_PORT: String(port), ...extra };
    const command = ['sh', path.join(work, 'scripts', 'rehearse-postgres.sh')];
    const child = asNobody
      ? spawn('runuser', ['-u', 'nobody', '--', 'env', ...Object.entries(stepEnv).map(([k, v]) => `${k}=${v}`), ...command])
      : spawn(command[0], command.slice(1), { env: stepEnv });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    const signal = (name: string) => path.join(signals, name);
    const served = async () => {
      for (let i = 0; i < 600 && !fs.existsSync(signal('ready')) && !fs.existsSync(signal('failed')); i++)
        await new Promise((r) => setTimeout(r, 100));
      return fs.existsSync(signal('ready'));
    };
    /** psql as the migration step connects: plane, by password, on 127.0.0.1. */
    const asMigration = (sql: string) =>
      spawnSync(
        path.join(server.bin, 'psql'),
        ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'plane', '-d', 'plane', '-c', sql],
        {
          encoding: 'utf8',
          env: { ...process.env, PGPASSWORD: fs.readFileSync(signal('password'), 'utf8') },
        },
      );
    return { dir, signals, signal, unpack, port, served, asMigration, exited, output: () => output };
  };

  it('an upgrade rehearsal serves a copy of a backup to the migration step on 127.0.0.1, as a plane that owns it, then drops it', async () => {
    const made = backup();
    const id = /backup: snapshot ([0-9a-f]{8})/.exec(made.snapshot.stdout)?.[1] as string;
    const before = fingerprint();
    const r = await rehearsal(id);
    assert.match(r.unpack.stdout, new RegExp(`^rehearsal: unpacked snapshot ${id} \\(v1\\.2\\.2, dumped `, 'm'));
    assert.ok(await r.served(), r.output());
    assert.match(
      r.output(),
      new RegExp(
        `^rehearsal: snapshot ${id} restored into a scratch server in \\d+ s: Plane v1\\.2\\.2, migration db\\.0107_remove_issue_sort_order, 4 tables with the recorded row counts$`,
        'm',
      ),
    );
    // The copy holds the backup's rows, owned by a plane that is no superuser: a migration's DDL works, as in the stack.
    assert.equal(r.asMigration('SELECT count(*) FROM issues').stdout.trim(), '3000');
    assert.equal(r.asMigration('SELECT rolsuper FROM pg_roles WHERE rolname = current_user').stdout.trim(), 'f');
    assert.equal(
      r.asMigration("SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'").stdout.trim(),
      'plane',
    );
    assert.equal(r.asMigration('ALTER TABLE issues ADD COLUMN rehearsed boolean').status, 0);
    assert.equal(r.asMigration("INSERT INTO django_migrations (app, name) VALUES ('db', '0108_rehearsed')").status, 0);
    assert.equal(r.asMigration('SHOW listen_addresses').stdout.trim(), '127.0.0.1');
    // Its superuser has no password: not reachable over TCP, only on the server's own socket in the scratch volume.
    const superuser = spawnSync(
      path.join(server.bin, 'psql'),
      ['-X', '-h', '127.0.0.1', '-p', String(r.port), '-U', 'rehearsal', '-d', 'plane', '-w', '-c', 'SELECT 1'],
      { encoding: 'utf8' },
    );
    assert.notEqual(superuser.status, 0);
    fs.writeFileSync(r.signal('done'), '0\n');
    assert.equal(await r.exited, 0, r.output());
    assert.match(
      r.output(),
      /^rehearsal: the copy ended at migration db\.0108_rehearsed; copy dropped \(scratch server stopped, its files deleted\)$/m,
    );
    assert.equal(fs.existsSync(path.join(r.dir, 'rehearsal-server')), false, 'the copy is deleted');
    assert.equal(fs.existsSync(r.signal('password')), false, "the copy's password is deleted");
    assert.equal(fingerprint(), before, "Plane's own database is untouched");
    assert.equal(server.sql(env.PGDATABASE, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'rehearsed'"), '0');
  });

  it('a rehearsal whose migration step never finishes gives up after REHEARSAL_WAIT_SECONDS and drops the copy', async () => {
    const [latest] = list();
    const r = await rehearsal(latest.id, { REHEARSAL_WAIT_SECONDS: '2' });
    assert.ok(await r.served(), r.output());
    assert.equal(await r.exited, 1);
    assert.match(r.output(), /^rehearsal: the migration step did not finish within 2 s$/m);
    assert.ok(fs.existsSync(r.signal('failed')));
    assert.equal(fs.existsSync(path.join(r.dir, 'rehearsal-server')), false, 'the copy is deleted');
  });

  it('a backup whose dump lost rows fails the drill and its restore, which changes nothing', () => {
    // The stamp says what the database held; a dump that lost rows (a truncated table) disagrees.
    const dir = scratch();
    assert.equal(run('dump-postgres.sh', dir, withDatabase()).status, 0);
    const tables = path.join(dir, 'postgres', 'tables.tsv');
    fs.writeFileSync(
      tables,
      fs.readFileSync(tables, 'utf8').replace(/^(public\tissues\t)(\d+)$/m, (_, head, n) => `${head}${Number(n) + 1}`),
    );
    assert.equal(run('snapshot.sh', dir, withKey).status, 0);
    const result = drill();
    assert.notEqual(result.status, 0, result.output);
    assert.match(result.output, /table public\.issues has \d+ rows, the backup recorded \d+/);
    server.sql(env.PGDATABASE, "UPDATE issues SET name = 'kept' WHERE id = 2");
    const { database } = restore('latest');
    assert.notEqual(database?.status, 0);
    assert.match(database?.stderr ?? '', /table public\.issues has \d+ rows, the backup recorded \d+/);
    assert.equal(server.sql(env.PGDATABASE, 'SELECT name FROM issues WHERE id = 2'), 'kept', 'rolled back');
  });

  it('a truncated dump in a backup fails the drill, its restore, which changes nothing, and its rehearsal', async () => {
    // pg_restore --list still reads the table of contents at the start: only the restore finds the end missing.
    const dir = scratch();
    assert.equal(run('dump-postgres.sh', dir, withDatabase()).status, 0);
    const dump = path.join(dir, 'postgres', 'plane.dump');
    fs.truncateSync(dump, Math.floor(fs.statSync(dump).size / 2));
    assert.equal(run('snapshot.sh', dir, withKey).status, 0);
    const result = drill();
    assert.notEqual(result.status, 0, result.output);
    assert.match(
      result.output,
      /pg_restore: error: could not read from input file: end of file[\s\S]*drill: snapshot [0-9a-f]{8} could not be restored and checked \(above\)/,
    );
    server.sql(env.PGDATABASE, "UPDATE issues SET name = 'kept too' WHERE id = 2");
    const { database } = restore('latest');
    assert.notEqual(database?.status, 0);
    assert.match(
      database?.stderr ?? '',
      /restore: snapshot [0-9a-f]{8} could not be restored and checked \(above\): the database is as it was/,
    );
    assert.equal(server.sql(env.PGDATABASE, 'SELECT name FROM issues WHERE id = 2'), 'kept too', 'rolled back');
    assert.equal(server.sql(env.PGDATABASE, 'SELECT count(*) FROM issues'), '3000');
    // A rehearsal of it fails before any migration: the migration step stops at the copy's failure, without Plane.
    const [latest] = list();
    const r = await rehearsal(latest.id);
    assert.equal(await r.served(), false);
    assert.equal(await r.exited, 1);
    assert.match(r.output(), /rehearsal: snapshot [0-9a-f]{8} could not be restored and checked \(above\)/);
    const migrate = run('rehearse-migrate.sh', scratch(), { REHEARSAL_SIGNALS: r.signals, PATH: '/usr/bin:/bin' });
    assert.equal(migrate.status, 1);
    assert.equal(migrate.stderr.trim(), 'rehearsal: nothing migrated: the copy could not be made (the rehearse-postgres step says why)');
  });

  it('keeps the newest snapshots only', () => {
    for (let i = 0; i < 2; i++) {
      const { snapshot } = backup({ BACKUP_KEEP: '2' });
      assert.equal(snapshot.status, 0, snapshot.stderr);
      assert.match(snapshot.stdout, /; 2 snapshots kept \(at most 2\)$/m);
    }
    assert.equal(list().length, 2);
    assert.equal(drill().status, 0, 'the newest, a good one, drills');
  });

  it('refuses a snapshot name that is not one, or one that is not there', () => {
    assert.match(
      run('unpack.sh', scratch(), { ...withKey, RESTORE_BACKUP: '../../etc/passwd' }).stderr,
      /RESTORE_BACKUP must be a snapshot id \(plane-k3s backup list\) or latest/,
    );
    assert.notEqual(run('unpack.sh', scratch(), { ...withKey, RESTORE_BACKUP: 'deadbeef' }).status, 0);
  });

  it('copies every snapshot off-site, encrypted, and keeps its history there when the source forgets it', () => {
    const offsite = {
      OFFSITE_REPOSITORY: `s3:${s3.endpoint}/offsite/plane-backup`,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_DEFAULT_REGION: 'garage',
    };
    const first = backup({ ...offsite, BACKUP_KEEP: '1' });
    assert.equal(first.snapshot.status, 0, first.snapshot.stderr);
    assert.match(first.snapshot.stdout, /^backup: copied to the off-site repository s3:http:\/\/127\.0\.0\.1:\d+\/offsite\/plane-backup$/m);
    const second = backup({ ...offsite, BACKUP_KEEP: '1' });
    assert.equal(second.snapshot.status, 0, second.snapshot.stderr);
    assert.equal(list().length, 1, 'the source keeps one');
    const remote = spawnSync('restic', ['-r', offsite.OFFSITE_REPOSITORY, 'snapshots', '--json'], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env.PATH}`, RESTIC_PASSWORD: password, ...offsite },
    });
    assert.equal(remote.status, 0, remote.stderr);
    assert.ok((JSON.parse(remote.stdout) as unknown[]).length >= 2, 'off-site keeps what the source forgot');
    for (const file of filesUnder(path.join(s3.root, 'offsite'))) {
      const content = fs.readFileSync(file);
      assert.equal(
        content.includes('PGDMP') || content.includes(TOKEN) || content.includes(UPLOAD.trim()),
        false,
        `${file} holds data in clear`,
      );
    }
  });

  it('detects a tampered repository: the drill fails', () => {
    const packs = filesUnder(path.join(backupDir, 'restic', 'data'));
    for (const pack of packs) {
      const bytes = fs.readFileSync(pack);
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      fs.writeFileSync(pack, bytes);
    }
    const result = drill();
    assert.notEqual(result.status, 0, result.output);
    assert.match(result.output, /Fatal|error|ciphertext verification failed|does not match/i);
  });
});
