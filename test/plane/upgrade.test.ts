/**
 * The way to a Plane release and back, on Plane's real backends of two releases (developer-pointed,
 * never in CI): the site provisioned on the running release, a project with a work item assigned to
 * each agent, each agent's view of it; a backup (the backup Job's scripts); the rehearsal Job's steps
 * with the target's own code (its migrations on a scratch copy; the production database unchanged);
 * the upgrade in the stack's order (the running release stopped, the target's migrator, the target
 * started); each agent reads the same work items with its own token, provisioning writes nothing,
 * verify's Plane checks and smoke's calls pass; then the way back: the target stopped, the pre-upgrade
 * backup restored (the restore Job's scripts), the running release started: the same views again.
 *
 * Variables: those of ./harness.ts and ./backup.test.ts for the running release (its processes serve
 * PLANE_TEST_BASE_URL), and for the target:
 *   PLANE_TEST_UPGRADE_TO        its tag, e.g. v1.2.3
 *   PLANE_TEST_UPGRADE_API_DIR   its Django project (apps/api of its source), where the rehearsal's
 *                                migration step runs, as in its image's working directory
 *   PLANE_TEST_UPGRADE_PYTHON    the python of its environment (its requirements installed)
 *   PLANE_TEST_UPGRADE_MANAGE    its manage.py with the backend's environment (migrator, provisioning)
 *   PLANE_TEST_UPGRADE_START, PLANE_TEST_UPGRADE_STOP  start and stop its processes, serving PLANE_TEST_BASE_URL
 *   PLANE_TEST_RECORD=1          also write the rehearsal's logs for test/cluster (REHEARSAL_FIXTURE)
 * It replaces that backend's database and restores it: use a throw-away one. Run: `npm run test:plane`.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentTokenVariable } from '../../lib/plane/provisioning';
import { agentAccess, checkSignup, judgeAgentAccess } from '../../ops/verify';
import { REHEARSAL_FIXTURE, RehearsalFixture } from '../cluster/plane-fixture';
import { find, Manifest, siteWith, synth } from '../helpers';
import { backupToolsOnPath } from '../postgres/harness';
import { api, backupEnv, backupScripts, database, manifests, newTokens, PG_BIN, planeApi, provision, skipDatabase, spec } from './harness';

const target = {
  tag: process.env.PLANE_TEST_UPGRADE_TO,
  apiDir: process.env.PLANE_TEST_UPGRADE_API_DIR,
  python: process.env.PLANE_TEST_UPGRADE_PYTHON,
  manage: process.env.PLANE_TEST_UPGRADE_MANAGE,
  start: process.env.PLANE_TEST_UPGRADE_START,
  stop: process.env.PLANE_TEST_UPGRADE_STOP,
};
const skipUpgrade =
  skipDatabase ||
  (!process.env.PLANE_TEST_START || !process.env.PLANE_TEST_STOP
    ? 'no start/stop commands of the running backend given (PLANE_TEST_START, PLANE_TEST_STOP: see ./backup.test.ts)'
    : Object.values(target).some((v) => !v)
      ? "no target release given (PLANE_TEST_UPGRADE_*: see the file's header)"
      : false);

const scripts = backupScripts;
const env = backupEnv;
const rehearsalPod = find(manifests, 'CronJob', 'plane-backup-rehearsal').spec.jobTemplate.spec.template.spec;
const RUNNING = env.PLANE_VERSION;
/** The provisioning spec dist/ gives the target (the site synthesized with its tag), as its Job reads it after the upgrade. */
const targetSpec = () =>
  JSON.parse(
    find(
      synth(
        siteWith((s) => {
          s.images.plane.tag = target.tag as string;
        }),
      ),
      'ConfigMap',
      'plane-provisioning-files',
    ).data['users.json'],
  );

describe(
  `the way to Plane ${target.tag ?? '(a later release)'} and back, on the real backends`,
  { skip: skipUpgrade, concurrency: 1 },
  () => {
    const tokens = newTokens();
    const admin = () => tokens.PLANE_ADMIN_API_KEY;
    const agentToken = (id: string) => tokens[agentTokenVariable(id)];
    const ws = `/api/v1/workspaces/${spec.workspace.slug}`;
    const repositoryKey = randomBytes(32).toString('hex');
    const figures: string[] = [];
    let work: string;
    let bin: string;
    let snapshot: string;
    let backupMigrations: number;
    let viewsBefore: Map<string, string[]>;

    before(() => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-upgrade-real-'));
      fs.chmodSync(work, 0o755);
      fs.mkdirSync(path.join(work, 'scripts'));
      for (const [file, content] of Object.entries(scripts)) fs.writeFileSync(path.join(work, 'scripts', file), content);
      bin = backupToolsOnPath(work);
    });
    after(() => {
      for (const line of figures) console.log(`# ${line}`);
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);
    const scratch = () => {
      const dir = fs.mkdtempSync(path.join(work, 'scratch-'));
      fs.chmodSync(dir, 0o777);
      return dir;
    };
    /** One of the backup Jobs' scripts as its container runs it; as nobody for PostgreSQL's server when the test runs as root. */
    const script = (name: string, scratchDir: string, extra: Record<string, string> = {}, args: string[] = []) => {
      const all = {
        ...env,
        ...database,
        PATH: `${bin}:${PG_BIN}:${process.env.PATH}`,
        BACKUP_DIR: path.join(work, 'backup'),
        WORK_DIR: scratchDir,
        RESTIC_REPOSITORY: path.join(work, 'backup', 'restic'),
        RESTIC_CACHE_DIR: path.join(scratchDir, '.cache'),
        RESTIC_PASSWORD: repositoryKey,
        ...extra,
      } as Record<string, string>;
      const result = spawnSync('sh', [path.join(work, 'scripts', name), ...args], { encoding: 'utf8', env: all });
      assert.equal(result.status, 0, `${name}: ${result.stderr}`);
      return result.stdout;
    };
    const shell = (command: string | undefined) => {
      const result = spawnSync('sh', ['-c', command as string], { encoding: 'utf8' });
      assert.equal(result.status, 0, `${command}: ${result.stderr.slice(-300)}`);
    };
    const psql = (sql: string) => {
      const result = spawnSync(path.join(PG_BIN as string, 'psql'), ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
        encoding: 'utf8',
        env: { ...process.env, ...database } as NodeJS.ProcessEnv,
      });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.trim();
    };
    const migrationsApplied = () => Number(psql('SELECT count(*) FROM django_migrations'));
    const waitForApi = async () => {
      for (let i = 0; i < 300; i++) {
        if ((await api('/').catch(() => ({ status: 0 }))).status === 200) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.fail('the api did not answer within 300 s');
    };
    /** What each agent reads with its own token: every work item of every project it is in (key, name, state, assignees). */
    const views = async () => {
      const seen = new Map<string, string[]>();
      for (const agent of spec.agents) {
        const projects = await api(`${ws}/projects/`, agentToken(agent.id));
        assert.equal(projects.status, 200, `${agent.id}: ${JSON.stringify(projects.body).slice(0, 200)}`);
        const lines: string[] = [];
        for (const project of projects.body.results as Manifest[]) {
          if (!project.is_member) continue;
          const items = await api(`${ws}/projects/${project.id}/work-items/?per_page=100`, agentToken(agent.id));
          assert.equal(items.status, 200, `${agent.id} in ${project.identifier}: ${JSON.stringify(items.body).slice(0, 200)}`);
          for (const i of items.body.results as Manifest[])
            lines.push(`${project.identifier}-${i.sequence_id} ${i.name} ${i.state} ${[...i.assignees].sort().join(',')}`);
        }
        seen.set(agent.id, lines.sort());
      }
      return seen;
    };
    const provisionWritesNothing = (manage?: string, provisioningSpec?: object) => {
      for (let run = 0; run < 2; run++) {
        const again = provision(tokens, provisioningSpec, '', {}, manage);
        assert.equal(again.code, 0, again.output);
        assert.match(again.output, /rows written: nothing$/m, again.output);
      }
    };

    it(`provisions the site on Plane ${RUNNING}, a project with a work item assigned to each agent, and reads each agent's view`, async () => {
      const provisioned = provision(tokens);
      assert.equal(provisioned.code, 0, provisioned.output);
      const identifier = `UP${randomBytes(2).toString('hex').toUpperCase()}`;
      const project = await api(`${ws}/projects/`, admin(), 'POST', { name: `Upgrade ${identifier}`, identifier });
      assert.equal(project.status, 201, JSON.stringify(project.body).slice(0, 200));
      for (const agent of spec.agents) {
        const me = await api('/api/v1/users/me/', agentToken(agent.id));
        assert.equal(me.status, 200);
        const member = await api(`${ws}/projects/${project.body.id}/members/`, admin(), 'POST', { member: me.body.id, role: 15 });
        assert.equal(member.status, 201, JSON.stringify(member.body).slice(0, 200));
        const item = await api(`${ws}/projects/${project.body.id}/work-items/`, admin(), 'POST', {
          name: `${agent.id}'s work before the upgrade`,
          assignees: [me.body.id],
        });
        assert.equal(item.status, 201, JSON.stringify(item.body).slice(0, 200));
      }
      viewsBefore = await views();
      for (const agent of spec.agents)
        assert.ok(
          viewsBefore.get(agent.id)?.some((line) => line.includes(`${agent.id}'s work before the upgrade`)),
          `${agent.id} sees its work item`,
        );
    });

    it(`rehearses: a backup, then Plane ${target.tag}'s own migrations on a scratch copy of it; production unchanged`, async () => {
      const backupScratch = scratch();
      const started = Date.now();
      script('dump-postgres.sh', backupScratch);
      const made = script('snapshot.sh', backupScratch);
      snapshot = /^backup: snapshot ([0-9a-f]{8}),/m.exec(made)?.[1] as string;
      assert.ok(snapshot, made);
      backupMigrations = Number(/^migrations=(\d+)$/m.exec(fs.readFileSync(path.join(backupScratch, 'postgres', 'stamp'), 'utf8'))?.[1]);
      figures.push(`backup ${seconds(started)} s (snapshot ${snapshot}, ${backupMigrations} migrations)`);
      const before = migrationsApplied();

      // The rehearsal Job: its unpack, then the copy's server beside the target's migration, as in its pod.
      const rehearsalStarted = Date.now();
      const dir = scratch();
      const signals = scratch();
      const unpack = script('unpack.sh', dir, { RESTORE_BACKUP: snapshot }, ['rehearse']);
      assert.match(unpack, new RegExp(`^rehearsal: unpacked snapshot ${snapshot} `, 'm'));
      const port = String(40000 + Math.floor(Math.random() * 10000));
      const asNobody = process.getuid?.() === 0;
      if (asNobody) spawnSync('chown', ['-R', 'nobody', dir, signals]);
      const serverEnv = { ...env, PATH: `${PG_BIN}:/usr/bin:/bin`, WORK_DIR: dir, REHEARSAL_SIGNALS: signals, REHEARSAL_PORT: port };
      const serverCommand = ['sh', path.join(work, 'scripts', 'rehearse-postgres.sh')];
      const server: ChildProcess = asNobody
        ? spawn('runuser', ['-u', 'nobody', '--', 'env', ...Object.entries(serverEnv).map(([k, v]) => `${k}=${v}`), ...serverCommand])
        : spawn(serverCommand[0], serverCommand.slice(1), { env: serverEnv });
      let serverLog = '';
      server.stdout?.on('data', (d) => (serverLog += d));
      server.stderr?.on('data', (d) => (serverLog += d));
      const serverExit = new Promise<number>((resolve) => server.on('close', (code) => resolve(code ?? -1)));
      // The migration step with only its container's environment (the manifest's env, the image's PATH), in
      // the target's Django project: no secret, no database address but the copy's.
      const migrate = rehearsalPod.containers.find((c: Manifest) => c.name === 'rehearse-migrate');
      const containerEnv = Object.fromEntries(migrate.env.map((e: Manifest) => [e.name, e.value]));
      const migration = await new Promise<{ code: number; log: string }>((resolve) => {
        const child = spawn('sh', [path.join(work, 'scripts', 'rehearse-migrate.sh')], {
          cwd: target.apiDir,
          env: {
            ...containerEnv,
            REHEARSAL_SIGNALS: signals,
            REHEARSAL_TARGET: target.tag as string,
            REHEARSAL_PORT: port,
            PATH: `${path.dirname(target.python as string)}:/usr/bin:/bin`,
            HOME: work,
          },
        });
        let log = '';
        child.stdout.on('data', (d) => (log += d));
        child.stderr.on('data', (d) => (log += d));
        child.on('close', (code) => resolve({ code: code ?? -1, log }));
      });
      assert.equal(migration.code, 0, migration.log.slice(-2000));
      assert.equal(await serverExit, 0, serverLog);
      figures.push(`rehearsal of ${target.tag}: ${seconds(rehearsalStarted)} s in all`);
      const summary = /^rehearsal: Plane (\S+) migrated the copy in (\d+) s: (\d+) migrations applied, none left$/m.exec(migration.log);
      assert.ok(summary, migration.log.slice(-2000));
      assert.equal(summary[1], target.tag);
      const planned = /^rehearsal: Plane \S+: (\d+) migrations to apply(?:: (.*))?$/m.exec(migration.log);
      assert.ok(planned);
      assert.equal(planned[1], summary[3]);
      assert.equal((planned[2] ?? '').split(' ').filter(Boolean).length, Number(planned[1]));
      figures.push(`${target.tag}'s migrations on the copy: ${summary[2]} s, ${summary[3]} applied (${planned[2] || 'none'})`);
      assert.match(
        serverLog,
        new RegExp(
          `^rehearsal: snapshot ${snapshot} restored into a scratch server in \\d+ s: Plane ${RUNNING.replace(/\./g, '\\.')}`,
          'm',
        ),
      );
      assert.match(serverLog, /^rehearsal: the copy ended at migration \S+; copy dropped/m);
      assert.equal(fs.readdirSync(dir).includes('rehearsal-server'), false, 'the copy is deleted');
      assert.equal(migrationsApplied(), before, "the production database's migrations are unchanged");
      assert.deepEqual(await views(), viewsBefore, 'nothing changed for the agents');
      if (process.env.PLANE_TEST_RECORD === '1') {
        const lines = (text: string) => text.split('\n').filter((l) => l.startsWith('rehearsal:'));
        const recorded: RehearsalFixture = {
          recorded: {
            plane: `${RUNNING} → ${target.tag} (makeplane/plane tags, the target's backend run from source)`,
            at: new Date().toISOString(),
            how: 'PLANE_TEST_RECORD=1 npm run test:plane with PLANE_TEST_UPGRADE_* (test/plane/upgrade.test.ts)',
          },
          target: target.tag as string,
          logs: { 'rehearse-migrate': lines(migration.log) },
        };
        fs.writeFileSync(REHEARSAL_FIXTURE, `${JSON.stringify(recorded, null, 1)}\n`);
      }
    });

    it(`upgrades to ${target.tag} in the stack's order: the same views, provisioning writes nothing, verify's and smoke's checks pass`, async () => {
      const started = Date.now();
      shell(process.env.PLANE_TEST_STOP);
      // The target's migrator Job: Plane's bin/docker-entrypoint-migrator.sh (wait_for_db, then migrate).
      for (const command of ['wait_for_db', 'migrate']) {
        const result = spawnSync(target.manage as string, [command], { encoding: 'utf8', timeout: 900_000 });
        assert.equal(result.status, 0, `${command}: ${result.stderr.slice(-500)}`);
      }
      const migrated = seconds(started);
      shell(target.start);
      await waitForApi();
      figures.push(`upgrade to ${target.tag}: migrator done ${migrated} s after the stop, api answering after ${seconds(started)} s`);

      const instance = await planeApi().instance();
      assert.equal(instance.instance.current_version, target.tag);
      const signup = await checkSignup(planeApi());
      assert.equal(signup.status, 'pass', signup.detail);
      assert.equal(instance.config.is_magic_login_enabled, false, 'magic-code login stays off');
      assert.deepEqual(await views(), viewsBefore, 'each agent reads the same work items with its own token');
      provisionWritesNothing(target.manage, targetSpec());
      for (const agent of spec.agents) {
        const access = await agentAccess(planeApi(), agentToken(agent.id));
        const check = judgeAgentAccess(agent.email, spec.workspace.slug, access, 'fix', `token/${agent.id}`);
        assert.equal(check.status, 'pass', `${agent.id}: ${check.detail}`);
      }
      // smoke's calls (ops/smoke.ts): a work item assigned to builder, read back by builder, by id and by key.
      const plane = planeApi();
      const builder = spec.agents.find((a: Manifest) => a.id === 'builder') ?? spec.agents[0];
      const me = await plane.me(agentToken(builder.id));
      const projects = await plane.json<{ results: Manifest[] }>('GET', plane.projectsPath(), admin(), [200]);
      const project = projects.results.find((p) => p.identifier.startsWith('UP')) as Manifest;
      const item = await plane.json<Manifest>('POST', plane.workItemsPath(project.id), admin(), [201], {
        name: `smoke after the upgrade to ${target.tag}`,
        assignees: [me.id],
      });
      const read = await plane.json<Manifest>('GET', plane.workItemsPath(project.id, item.id), agentToken(builder.id), [200]);
      assert.deepEqual(read.assignees, [me.id]);
      await plane.json('GET', plane.workItemByKeyPath(project.identifier, item.sequence_id), agentToken(builder.id), [200]);
    });

    it(`goes back to ${RUNNING}: the target stopped, the pre-upgrade backup restored, ${RUNNING} started; the same views again`, async () => {
      const started = Date.now();
      shell(target.stop);
      try {
        const dir = scratch();
        script('unpack.sh', dir, { RESTORE_BACKUP: snapshot });
        const restored = script('restore-postgres.sh', dir, { RESTORE_BACKUP: snapshot });
        assert.match(
          restored,
          new RegExp(`^restore: snapshot ${snapshot} restored into \\S+: Plane ${RUNNING.replace(/\./g, '\\.')}, `, 'm'),
        );
      } finally {
        shell(process.env.PLANE_TEST_START);
      }
      await waitForApi();
      figures.push(`way back to ${RUNNING}: restore and start ${seconds(started)} s`);
      assert.equal(migrationsApplied(), backupMigrations, "the backup's migrations, not the target's");
      assert.equal((await planeApi().instance()).instance.current_version, RUNNING);
      assert.deepEqual(await views(), viewsBefore, 'each agent reads the same work items as before the upgrade (the smoke item is gone)');
      provisionWritesNothing();
    });
  },
);
