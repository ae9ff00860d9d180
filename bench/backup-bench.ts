/**
 * Benchmark (prints figures, asserts nothing): the backup, drill and restore scripts of the backup
 * CronJobs with the real restic, on a workspace of `--items` work items (3,000 by default) with
 * comments and activity rows, in a real PostgreSQL 18 (tools/postgres), and `--uploads` MiB of uploads.
 * Time of each step, size of the dump and of the encrypted repository, and what a second, unchanged
 * backup adds (deduplication).
 *   npm run bench:backup [-- --items 3000 --uploads 50]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { find, synth } from '../test/helpers';
import { PostgresServer, backupToolsOnPath } from '../test/postgres/harness';

const { values } = parseArgs({ options: { items: { type: 'string', default: '3000' }, uploads: { type: 'string', default: '50' } } });
const items = Number(values.items);
const uploadsMiB = Number(values.uploads);

function sizeOf(dir: string): number {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((total, e) => total + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
}
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const manifests = synth();
  const scripts = find(manifests, 'ConfigMap', 'plane-backup-files').data as Record<string, string>;
  const env = find(manifests, 'ConfigMap', 'plane-backup-env').data as Record<string, string>;
  const server = await PostgresServer.start(env.PGUSER, env.PGDATABASE);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-backup-bench-'));
  fs.chmodSync(work, 0o755);
  try {
    for (const [file, content] of Object.entries(scripts)) fs.writeFileSync(path.join(work, file), content);
    const bin = backupToolsOnPath(work);
    // Work items shaped like Plane's: a description in HTML and JSON, a comment and three activity rows each.
    server.sql(
      env.PGDATABASE,
      `
      CREATE TABLE issues (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), sequence_id int, name text, description_html text, description jsonb, created_at timestamptz DEFAULT now());
      CREATE TABLE issue_comments (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), issue_id uuid REFERENCES issues(id), comment_html text);
      CREATE TABLE issue_activities (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), issue_id uuid REFERENCES issues(id), verb text, field text, old_value text, new_value text, created_at timestamptz DEFAULT now());
      INSERT INTO issues (sequence_id, name, description_html, description)
        SELECT g, 'Work item ' || g, '<p>' || repeat(md5(g::text) || ' ', 40) || '</p>', jsonb_build_object('type', 'doc', 'text', repeat(md5(g::text), 10)) FROM generate_series(1, ${items}) g;
      INSERT INTO issue_comments (issue_id, comment_html) SELECT id, '<p>' || repeat(md5(name), 8) || '</p>' FROM issues;
      INSERT INTO issue_activities (issue_id, verb, field, old_value, new_value) SELECT id, 'updated', f, 'a', 'b' FROM issues, unnest(ARRAY['state', 'priority', 'assignees']) f;`,
    );
    const backupDir = path.join(work, 'backup');
    const base = {
      ...env,
      ...server.env(),
      PATH: `${bin}:${server.env().PATH}`,
      BACKUP_DIR: backupDir,
      RESTIC_REPOSITORY: path.join(backupDir, 'restic'),
      RESTIC_PASSWORD: randomBytes(32).toString('hex'),
    };
    const step = (script: string, scratch: string, args: string[] = [], asNobody = false): number => {
      const all: Record<string, string> = { ...base, WORK_DIR: scratch, RESTIC_CACHE_DIR: path.join(scratch, '.cache') } as Record<
        string,
        string
      >;
      const command = ['sh', path.join(work, script), ...args];
      const started = process.hrtime.bigint();
      const result = asNobody
        ? spawnSync('runuser', ['-u', 'nobody', '--', 'env', ...Object.entries(all).map(([k, v]) => `${k}=${v}`), ...command], {
            encoding: 'utf8',
          })
        : spawnSync(command[0], command.slice(1), { encoding: 'utf8', env: all });
      if (result.status !== 0) throw new Error(`${script}: ${result.stderr}`);
      return Number(process.hrtime.bigint() - started) / 1e9;
    };
    const scratch = () => {
      const dir = fs.mkdtempSync(path.join(work, 'scratch-'));
      fs.chmodSync(dir, 0o777);
      return dir;
    };
    const withUploads = (dir: string) => {
      fs.mkdirSync(path.join(dir, 'uploads'), { recursive: true });
      for (let i = 0; i < uploadsMiB; i++) fs.writeFileSync(path.join(dir, 'uploads', `file-${i}.bin`), randomBytes(1048576));
    };

    const backup1 = scratch();
    const dumpSeconds = step('dump-postgres.sh', backup1);
    const dumpBytes = fs.statSync(path.join(backup1, 'postgres', 'plane.dump')).size;
    withUploads(backup1);
    const snapshotSeconds = step('snapshot.sh', backup1);
    const repository1 = sizeOf(path.join(backupDir, 'restic'));
    // A second backup of the same data (new random uploads excluded: the first ones again).
    const backup2 = scratch();
    const dump2Seconds = step('dump-postgres.sh', backup2);
    fs.cpSync(path.join(backup1, 'uploads'), path.join(backup2, 'uploads'), { recursive: true });
    const snapshot2Seconds = step('snapshot.sh', backup2);
    const repository2 = sizeOf(path.join(backupDir, 'restic'));

    const drill = scratch();
    const drillUnpack = step('unpack.sh', drill, ['drill']);
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'nobody', drill]);
    const drillCheck = step('drill-postgres.sh', drill, [], process.getuid?.() === 0);

    const restore = scratch();
    const unpackSeconds = step('unpack.sh', restore);
    const restoreSeconds = step('restore-postgres.sh', restore);

    const rows = server.sql(
      env.PGDATABASE,
      'SELECT (SELECT count(*) FROM issues) + (SELECT count(*) FROM issue_comments) + (SELECT count(*) FROM issue_activities)',
    );
    console.log(
      `${items} work items (${rows} rows), ${uploadsMiB} MiB of uploads; PostgreSQL 18, restic ${path.basename(fs.realpathSync(path.join(bin, 'restic')))}`,
    );
    console.log('| step | time | size |');
    console.log('|---|---|---|');
    console.log(`| backup: dump | ${dumpSeconds.toFixed(2)} s | dump ${mib(dumpBytes)} |`);
    console.log(`| backup: encrypt (first snapshot) | ${snapshotSeconds.toFixed(2)} s | repository ${mib(repository1)} |`);
    console.log(
      `| backup again, nothing changed | ${(dump2Seconds + snapshot2Seconds).toFixed(2)} s | repository +${mib(repository2 - repository1)} |`,
    );
    console.log(`| drill: check and unpack | ${drillUnpack.toFixed(2)} s | |`);
    console.log(`| drill: throw-away server, restore, check | ${drillCheck.toFixed(2)} s | |`);
    console.log(`| restore: unpack | ${unpackSeconds.toFixed(2)} s | |`);
    console.log(`| restore: database, one transaction, checked | ${restoreSeconds.toFixed(2)} s | |`);
  } finally {
    server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
