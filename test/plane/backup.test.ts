/**
 * The way back, on Plane's real backend (the release it runs, ./harness.ts): provision the site, a project of work items assigned to
 * builder, back up (the backup CronJob's scripts, the real restic), wipe the database, restore (the
 * restore Job's scripts), and builder reads the same work items back with its own token; provisioning
 * afterwards writes nothing; a drill of that backup passes. Skipped, with the reason, unless a backend
 * is given (./harness.ts) and its database:
 *
 *   PLANE_TEST_PGHOST, PLANE_TEST_PGPORT, PLANE_TEST_PGUSER, PLANE_TEST_PGDATABASE, PLANE_TEST_PGPASSWORD
 *   PLANE_TEST_PG_BIN     PostgreSQL client tools of the server's major (pg_dump, psql) and its server
 *                         (initdb, pg_ctl: the drill's throw-away server)
 *   PLANE_TEST_STOP, PLANE_TEST_START  optional commands that stop and start the backend's processes
 *                         (the restore refuses while any holds a connection)
 *
 * It replaces that backend's database: use a throw-away one. Run: `npm run test:plane`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentTokenVariable } from '../../lib/plane/provisioning';
import { Manifest } from '../helpers';
import { backupToolsOnPath } from '../postgres/harness';
import { api, backupEnv, backupScripts, database, newTokens, PG_BIN, provision, RELEASE, skipDatabase, spec } from './harness';

const skipBackup = skipDatabase;
const scripts = backupScripts;
const env = backupEnv;
/** The release's tag in a pattern. */
const tagPattern = RELEASE.tag.replace(/\./g, '\\.');
// The admin's calls stay under the site's per-token rate limit (30/minute).
const ITEMS = 20;

describe("backup, wipe and restore of Plane's real database", { skip: skipBackup, concurrency: 1 }, () => {
  const tokens = newTokens();
  const builder = () => tokens[agentTokenVariable('builder')];
  const admin = () => tokens.PLANE_ADMIN_API_KEY;
  const ws = `/api/v1/workspaces/${spec.workspace.slug}`;
  const password = randomBytes(32).toString('hex');
  let work: string;
  let bin: string;
  let projectId: string;
  let itemsBefore: string[];

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-backup-real-'));
    fs.chmodSync(work, 0o755);
    fs.mkdirSync(path.join(work, 'scripts'));
    for (const [file, content] of Object.entries(scripts)) fs.writeFileSync(path.join(work, 'scripts', file), content);
    bin = backupToolsOnPath(work);
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const run = (script: string, scratch: string, extra: Record<string, string> = {}, args: string[] = [], asNobody = false) => {
    const all = {
      ...env,
      ...database,
      PATH: `${bin}:${PG_BIN}:${process.env.PATH}`,
      BACKUP_DIR: path.join(work, 'backup'),
      WORK_DIR: scratch,
      RESTIC_REPOSITORY: path.join(work, 'backup', 'restic'),
      RESTIC_CACHE_DIR: path.join(scratch, '.cache'),
      RESTIC_PASSWORD: password,
      ...extra,
    } as Record<string, string>;
    const command = ['sh', path.join(work, 'scripts', script), ...args];
    const started = Date.now();
    const result = asNobody
      ? spawnSync('runuser', ['-u', 'nobody', '--', 'env', ...Object.entries(all).map(([k, v]) => `${k}=${v}`), ...command], {
          encoding: 'utf8',
        })
      : spawnSync(command[0], command.slice(1), { encoding: 'utf8', env: all });
    assert.equal(result.status, 0, `${script}: ${result.stderr}`);
    return { output: result.stdout, seconds: (Date.now() - started) / 1000 };
  };
  const scratch = () => {
    const dir = fs.mkdtempSync(path.join(work, 'scratch-'));
    fs.chmodSync(dir, 0o777);
    return dir;
  };
  const shell = (command: string | undefined) => {
    if (!command) return;
    const result = spawnSync('sh', ['-c', command], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${command}: ${result.stderr.slice(-300)}`);
  };
  const itemsAsBuilder = async () => {
    const { status, body } = await api(`${ws}/projects/${projectId}/work-items/?per_page=100`, builder());
    assert.equal(status, 200, JSON.stringify(body).slice(0, 200));
    return (body.results as Manifest[]).map((i) => `${i.sequence_id} ${i.name}`).sort();
  };

  it('provisions the site, then a project of work items assigned to builder, which builder reads', async () => {
    const provisioned = provision(tokens);
    assert.equal(provisioned.code, 0, provisioned.output);
    const me = await api('/api/v1/users/me/', builder());
    assert.equal(me.status, 200);
    const identifier = `BK${randomBytes(2).toString('hex').toUpperCase()}`;
    const project = await api(`${ws}/projects/`, admin(), 'POST', { name: `Backup ${identifier}`, identifier });
    assert.equal(project.status, 201, JSON.stringify(project.body).slice(0, 200));
    projectId = project.body.id;
    assert.equal((await api(`${ws}/projects/${projectId}/members/`, admin(), 'POST', { member: me.body.id, role: 15 })).status, 201);
    for (let i = 1; i <= ITEMS; i++) {
      const item = await api(`${ws}/projects/${projectId}/work-items/`, admin(), 'POST', {
        name: `work item ${i} before the backup`,
        assignees: [me.body.id],
      });
      assert.equal(item.status, 201, JSON.stringify(item.body).slice(0, 200));
    }
    itemsBefore = await itemsAsBuilder();
    assert.equal(itemsBefore.length, ITEMS);
  });

  it('backs up, wipes, restores: builder reads the same work items with its own token, provisioning writes nothing', async () => {
    const backupScratch = scratch();
    const dump = run('dump-postgres.sh', backupScratch);
    const snapshot = run('snapshot.sh', backupScratch);
    assert.match(
      dump.output,
      new RegExp(`^backup: dumped \\S+, \\d+ bytes, \\d+ entries, \\d+ tables; Plane ${tagPattern}, migration db\\.\\d{4}_\\w+$`, 'm'),
    );
    const stamp = fs.readFileSync(path.join(backupScratch, 'postgres', 'stamp'), 'utf8');
    const migrations = Number(/^migrations=(\d+)$/m.exec(stamp)?.[1]);
    const bytes = Number(/(\d+) bytes;/.exec(snapshot.output)?.[1]);

    // After the backup: a work item that the restore must take away again.
    await api(`${ws}/projects/${projectId}/work-items/`, admin(), 'POST', { name: 'written after the backup' });
    shell(process.env.PLANE_TEST_STOP);
    try {
      const wipe = spawnSync(
        path.join(PG_BIN as string, 'psql'),
        ['-X', '-v', 'ON_ERROR_STOP=1', '-c', 'DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION pg_database_owner;'],
        { encoding: 'utf8', env: { ...process.env, ...database } as NodeJS.ProcessEnv },
      );
      assert.equal(wipe.status, 0, wipe.stderr);
      const restoreScratch = scratch();
      const unpack = run('unpack.sh', restoreScratch);
      const restored = run('restore-postgres.sh', restoreScratch);
      assert.match(
        restored.output,
        new RegExp(
          `^restore: snapshot [0-9a-f]{8} restored into \\S+: Plane ${tagPattern}, migration db\\.\\d{4}_\\w+, \\d+ tables with the recorded row counts$`,
          'm',
        ),
      );
      const drillScratch = scratch();
      const drillUnpack = run('unpack.sh', drillScratch, {}, ['drill']);
      const asNobody = process.getuid?.() === 0;
      if (asNobody) spawnSync('chown', ['-R', 'nobody', drillScratch]);
      const drill = run('drill-postgres.sh', drillScratch, {}, [], asNobody);
      assert.match(drill.output, /^drill: snapshot [0-9a-f]{8} restored into a scratch server/m);
      // Figures for the closing note.
      console.log(
        `# Plane ${RELEASE.tag}, ${migrations} migrations: backup ${(dump.seconds + snapshot.seconds).toFixed(1)} s (${bytes} bytes), ` +
          `restore ${(unpack.seconds + restored.seconds).toFixed(1)} s, drill ${(drillUnpack.seconds + drill.seconds).toFixed(1)} s`,
      );
    } finally {
      shell(process.env.PLANE_TEST_START);
    }
    for (let i = 0; i < 60 && (await api('/').catch(() => ({ status: 0 }))).status !== 200; i++)
      await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await itemsAsBuilder(), itemsBefore);
    const again = provision(tokens);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /rows written: nothing$/m);
  });
});
