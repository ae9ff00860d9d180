/**
 * Issue 17's least privilege in the manifests: no token reaches the broker or the cache's disk, no
 * password in a probe's argv, Plane not a database superuser, Intercom and telemetry off, the bootstrap
 * account limited to its Secrets. The behaviour itself is proven on real parts: PostgreSQL 18
 * (test/postgres/roles.test.ts), the Valkey container's own command (below, with Debian's
 * redis-server when installed), Plane's backend (test/plane/), the control plane (test/cluster/).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { provisioningSpec } from '../lib/plane/provisioning';
import { componentTemplate, containersOf, find, freePort, Manifest, REPO_ROOT, siteWith, synth } from './helpers';

const site = siteWith();
const manifests = synth(site);
const envOf = (name: string) => find(manifests, 'ConfigMap', `${name}-env`).data as Record<string, string>;
const container = (component: string) => containersOf(componentTemplate(manifests, component).template).at(-1) as Manifest;

describe('least privilege in the manifests', () => {
  it("the api runs Plane's settings less the API-log middleware; the other Django processes Plane's own", () => {
    assert.equal(envOf('plane-api').DJANGO_SETTINGS_MODULE, 'plane.settings.plane_k3s');
    for (const other of ['plane-worker', 'plane-beat-worker', 'plane-migrator', 'plane-provisioning'])
      assert.equal(envOf(other).DJANGO_SETTINGS_MODULE, undefined, other);
    const mount = (container('api').volumeMounts as Manifest[]).find((m) => m.mountPath === '/code/plane/settings/plane_k3s.py');
    assert.ok(mount?.readOnly && mount.subPath === 'plane_k3s.py');
  });

  it("the settings module drops exactly the API-log middleware (run with python3 over a stand-in of Plane's settings)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-settings-'));
    try {
      fs.mkdirSync(path.join(dir, 'plane', 'settings'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'plane', '__init__.py'), '');
      fs.writeFileSync(path.join(dir, 'plane', 'settings', '__init__.py'), '');
      // Plane v1.2.2's list (apps/api/plane/settings/common.py), as its production settings import it.
      fs.writeFileSync(
        path.join(dir, 'plane', 'settings', 'production.py'),
        'MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware", "django.middleware.security.SecurityMiddleware", "plane.middleware.logger.APITokenLogMiddleware", "plane.middleware.request_body_size.RequestBodySizeLimitMiddleware"]\nSECRET_KEY = "x"\n',
      );
      fs.copyFileSync(path.join(REPO_ROOT, 'lib', 'plane', 'api', 'plane_k3s.py'), path.join(dir, 'plane', 'settings', 'plane_k3s.py'));
      const run = spawnSync(
        'python3',
        ['-c', 'import json, plane.settings.plane_k3s as s; print(json.dumps([s.MIDDLEWARE, s.SECRET_KEY]))'],
        { cwd: dir, encoding: 'utf8' },
      );
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), [
        [
          'corsheaders.middleware.CorsMiddleware',
          'django.middleware.security.SecurityMiddleware',
          'plane.middleware.request_body_size.RequestBodySizeLimitMiddleware',
        ],
        'x',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('telemetry is off from the first start, and Intercom with it', () => {
    assert.equal(envOf('plane-api').PLANE_K3S_TELEMETRY, '0');
    assert.match(
      container('api').command.join(' '),
      /wait_for_migrations[^]*plane_k3s_first_start\.main\(\)[^]*exec \.\/bin\/docker-entrypoint-api\.sh/,
    );
    for (const name of ['plane-api', 'plane-worker', 'plane-beat-worker', 'plane-migrator', 'plane-provisioning'])
      assert.equal(envOf(name).IS_INTERCOM_ENABLED, '0', name);
    assert.equal(provisioningSpec(site).instanceSettings.IS_INTERCOM_ENABLED, '0');
    const open = siteWith((s) => {
      s.plane.access.telemetry = true;
    });
    assert.equal(provisioningSpec(open).instanceSettings.IS_INTERCOM_ENABLED, '1');
    // The first start follows the site, not a fixed value.
    assert.equal((find(synth(open), 'ConfigMap', 'plane-api-env').data as Record<string, string>).PLANE_K3S_TELEMETRY, '1');
  });

  it('writes no Intercom setting for v1.3.1, which has no Intercom (nothing would read it); telemetry stays off', () => {
    const v131 = siteWith((s) => {
      s.images.plane.tag = 'v1.3.1';
    });
    const all = synth(v131);
    for (const name of ['plane-api', 'plane-worker', 'plane-beat-worker', 'plane-migrator', 'plane-provisioning']) {
      const env = find(all, 'ConfigMap', `${name}-env`).data as Record<string, string>;
      assert.equal(env.IS_INTERCOM_ENABLED, undefined, name);
      assert.equal(env.APP_VERSION, 'v1.3.1', name);
    }
    assert.equal((find(all, 'ConfigMap', 'plane-api-env').data as Record<string, string>).PLANE_K3S_TELEMETRY, '0');
    assert.equal('IS_INTERCOM_ENABLED' in provisioningSpec(v131).instanceSettings, false);
  });

  it('no probe passes a password in its argv', () => {
    for (const m of manifests.filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind))) {
      for (const c of containersOf(m.spec.template)) {
        for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe].filter(Boolean)) {
          const argv = (probe.exec?.command ?? []).join(' ');
          assert.doesNotMatch(argv, /\s-a\s|--pass|PASSWORD|\$\([A-Z_]+\)/, `${m.metadata.name} ${c.name}: ${argv}`);
        }
      }
    }
    const valkey = container('redis');
    assert.deepEqual(valkey.env.find((e: Manifest) => e.name === 'REDISCLI_AUTH')?.valueFrom, {
      secretKeyRef: { name: 'plane-redis', key: 'password' },
    });
  });

  it("PostgreSQL: the superuser is postgres without a password on TCP; Plane's role is another", () => {
    const pg = container('postgres');
    const env = envOf('plane-postgres');
    assert.equal(env.POSTGRES_USER, 'postgres');
    assert.equal(env.PLANE_USER, site.data.postgres.user);
    assert.deepEqual(pg.command, ['sh', '/opt/plane-k3s/ensure-roles.sh', 'docker-entrypoint.sh']);
    assert.deepEqual(pg.args, ['postgres', '-c', 'hba_file=/etc/postgresql/pg_hba.conf']);
    const files = find(manifests, 'ConfigMap', 'plane-postgres-files').data as Record<string, string>;
    assert.match(files['pg_hba.conf'], /^host all postgres all reject$/m);
    assert.ok(files['pg_hba.conf'].indexOf('reject') < files['pg_hba.conf'].indexOf('scram-sha-256'), 'the reject line comes first');
    assert.ok(files['plane-k3s-roles.sql'].includes('NOSUPERUSER'));
  });

  it("the secrets bootstrap's account may create only the stack's Secrets, of type Opaque", () => {
    const policy = find(manifests, 'ValidatingAdmissionPolicy', 'plane-plane-secrets');
    assert.deepEqual(policy.spec.matchConditions, [
      { name: 'the-bootstrap-account', expression: "request.userInfo.username == 'system:serviceaccount:plane:plane-secrets'" },
    ]);
    const [names, type] = policy.spec.validations.map((v: Manifest) => v.expression);
    const made = JSON.parse(find(manifests, 'ConfigMap', 'plane-secrets-files').data['secrets.json']).secrets.map((s: Manifest) => s.name);
    for (const name of made) assert.ok(names.includes(`'${name}'`), name);
    assert.match(names, /^request\.namespace == 'plane' && object\.metadata\.name in \[/);
    assert.equal(type, "!has(object.type) || object.type == 'Opaque'");
    assert.deepEqual(find(manifests, 'ValidatingAdmissionPolicyBinding', 'plane-plane-secrets').spec, {
      policyName: 'plane-plane-secrets',
      validationActions: ['Deny'],
    });
  });
});

/** The Valkey container's own command and arguments, run with Debian's redis-server (same options). */
const REDIS_SERVER = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
describe(
  "Valkey's container keeps nothing on disk",
  { skip: REDIS_SERVER ? false : 'redis-server is not installed (apt-get install redis-server)' },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-valkey-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('removes the files an earlier version saved, saves no snapshot or AOF, even at shutdown; its probe passes', async () => {
      const valkey = container('redis');
      const data = path.join(dir, 'data');
      const shims = path.join(dir, 'bin');
      fs.mkdirSync(data);
      fs.mkdirSync(shims);
      const port = await freePort();
      // valkey-server and valkey-cli stand for Debian's redis tools; the cli shim adds the test's port.
      fs.writeFileSync(
        path.join(shims, 'valkey-server'),
        `#!/bin/sh\nexec redis-server "$@" --port ${port} --bind 127.0.0.1 --daemonize no\n`,
        { mode: 0o755 },
      );
      fs.writeFileSync(path.join(shims, 'valkey-cli'), `#!/bin/sh\nexec redis-cli -p ${port} "$@"\n`, { mode: 0o755 });
      const oldToken = `plane_api_${randomBytes(16).toString('hex')}`;
      fs.writeFileSync(path.join(data, 'dump.rdb'), `REDIS0011 throttle_${oldToken}`);
      fs.mkdirSync(path.join(data, 'appendonlydir'));
      fs.writeFileSync(path.join(data, 'appendonlydir', 'appendonly.aof.1.incr.aof'), oldToken);

      const password = randomBytes(24).toString('hex');
      const substitute = (arg: string) => arg.replaceAll('/data', data).replaceAll('$(REDIS_PASSWORD)', password);
      const env = { PATH: `${shims}:${process.env.PATH}`, REDIS_PASSWORD: password, REDISCLI_AUTH: password };
      const server = spawn(valkey.command[0], [...valkey.command.slice(1), ...valkey.args].map(substitute), { env, stdio: 'ignore' });
      try {
        const probe = valkey.readinessProbe.exec.command as string[];
        let ready = false;
        for (let i = 0; i < 50 && !ready; i++) {
          ready = spawnSync(probe[0], probe.slice(1), { env }).status === 0;
          if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.ok(ready, 'the probe passes with the password from the environment');
        const cli = (...args: string[]) => spawnSync('valkey-cli', ['--no-auth-warning', ...args], { env, encoding: 'utf8' }).stdout.trim();
        assert.equal(cli('CONFIG', 'GET', 'save'), 'save', 'no snapshot schedule');
        assert.equal(cli('CONFIG', 'GET', 'appendonly'), 'appendonly\nno');
        const token = `plane_api_${randomBytes(16).toString('hex')}`;
        // What Plane's throttle writes: a key on the raw token.
        for (let i = 0; i < 200; i++) cli('SET', `throttle_${token}_${i}`, '1', 'EX', '60');
        cli('SHUTDOWN');
        await new Promise((resolve) => server.once('exit', resolve));
        const left = fs.readdirSync(data, { recursive: true, encoding: 'utf8' });
        assert.deepEqual(left, [], 'nothing is left in the data folder');
      } finally {
        server.kill();
      }
    });
  },
);
