/**
 * The provisioning Job's code against Plane's real backend, with the spec the synth puts in its ConfigMap
 * for the release the backend runs (./harness.ts). No Plane image or source can be had in CI: this suite runs against a backend the developer
 * points it at (PLANE_TEST_MANAGE, PLANE_TEST_BASE_URL: see ./harness.ts), and is skipped with that
 * reason otherwise.
 *
 *   PLANE_TEST_WORKER_LOG optional: the log of a worker running lib/plane/celery/plane_k3s_celery.py;
 *                         then no API token may appear in it after the agents' calls
 *   PLANE_TEST_RABBITMQ_DIR, PLANE_TEST_REDIS_DIR optional: the broker's and the cache's data folders
 *                         (the api run as dist/ runs it, the cache with the Valkey container's
 *                         arguments): then no token of the agents' calls may be stored in them
 *
 * It writes into that backend's database (the site's workspace, admin and agents): use a throw-away one.
 * Run: `npm run test:plane`. Tokens are generated here and given to the child process only; no value is
 * printed, and a failure never shows one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { SUPPORTED_PLANE_TAGS } from '../../lib/config/plane-releases';
import { agentTokenVariable, OVERLAP_OVERRIDE_VARIABLE } from '../../lib/plane/provisioning';
import { Manifest } from '../helpers';
import {
  ageTokens,
  api,
  BASE_URL,
  MANAGE,
  newTokens,
  planeShell,
  provision,
  REFUSED,
  RELEASE,
  request,
  skip,
  spec,
  token,
  tokenRows,
} from './harness';

const WORKER_LOG = process.env.PLANE_TEST_WORKER_LOG;
const STORES = { RabbitMQ: process.env.PLANE_TEST_RABBITMQ_DIR, Valkey: process.env.PLANE_TEST_REDIS_DIR };

/** Every file under `dir` (the broker's queues, message store and indices; a cache's snapshot). */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => `${dir}/${f}`)
    .filter((f) => fs.statSync(f).isFile());
}

/** Whether a user is an active member of the workspace: API v1 lists inactive members too, so ask Plane's models. */
function isActiveMember(email: string): boolean {
  const result = spawnSync(
    MANAGE as string,
    [
      'shell',
      '--command',
      `from plane.db.models import WorkspaceMember; print("active=%s" % WorkspaceMember.objects.filter(workspace__slug="${spec.workspace.slug}", member__email="${email}", is_active=True).exists())`,
    ],
    { encoding: 'utf8' },
  );
  const answer = /active=(True|False)/.exec(result.stdout)?.[1];
  assert.ok(answer, `no answer from manage.py shell: ${result.stderr.slice(-300)}`);
  return answer === 'True';
}

const listedMembers = async (apiKey: string) => {
  const { status, body } = await api(`/api/v1/workspaces/${spec.workspace.slug}/members/`, apiKey);
  assert.equal(status, 200);
  return new Map((body as Manifest[]).map((m) => [m.email as string, m.role as number]));
};

describe("provisioning against Plane's real backend", { skip, concurrency: 1 }, () => {
  const tokens = newTokens();
  const workerLogStart = WORKER_LOG && fs.existsSync(WORKER_LOG) ? fs.statSync(WORKER_LOG).size : 0;

  it('converges on a first run, then a second run writes no row', () => {
    const first = provision(tokens);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /provision: workspace javisi, admin and 10 agents converged/);
    const second = provision(tokens);
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /rows written: nothing$/m);
  });

  it("each agent's token answers users/me as that agent, the admin's as the admin", async () => {
    for (const agent of spec.agents) {
      const { status, body } = await api('/api/v1/users/me/', tokens[agentTokenVariable(agent.id)]);
      assert.equal(status, 200, agent.id);
      assert.deepEqual(
        [body.email, body.display_name, body.first_name, body.last_name],
        [agent.email, agent.displayName, agent.firstName, agent.lastName],
        agent.id,
      );
    }
    const admin = await api('/api/v1/users/me/', tokens.PLANE_ADMIN_API_KEY);
    assert.equal(admin.body.email, spec.admin.email);
    assert.equal((await api('/api/v1/users/me/', token())).status, REFUSED, 'an unknown token is refused');
  });

  it("the workspace's members are the admin and the ten agents, at their roles", async () => {
    const agents = spec.agents as Manifest[];
    const expected = new Map<string, number>([
      [spec.admin.email, 20],
      ...agents.map((a): [string, number] => [a.email, a.role === 'Admin' ? 20 : 15]),
    ]);
    assert.deepEqual(await listedMembers(tokens[agentTokenVariable('builder')]), expected);
    assert.equal(expected.get('concierge@agents.javisi.local'), 20);
  });

  it('the instance is private: set up, sign-up closed, workspace creation for admins, telemetry off', async () => {
    const { status, body } = await api('/api/instances/');
    assert.equal(status, 200);
    assert.equal(body.instance.is_setup_done, true);
    assert.equal(body.instance.instance_name, spec.instanceName);
    assert.equal(body.instance.is_telemetry_enabled, false);
    assert.equal(body.config.enable_signup, false);
    assert.equal(body.config.is_workspace_creation_disabled, true);
    assert.equal(body.config.is_magic_login_enabled, false);
  });

  it('turns magic-code login off again when someone turned it on in god-mode', async () => {
    planeShell(
      'from plane.license.models import InstanceConfiguration; InstanceConfiguration.objects.filter(key="ENABLE_MAGIC_LINK_LOGIN").update(value="1")',
    );
    const run = provision(tokens);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /instance settings updated 1/);
    const { body } = await api('/api/instances/');
    assert.equal(body.config.is_magic_login_enabled, false);
  });

  it(`keeps Intercom off where the release has it, and writes no Intercom setting where it has none (${RELEASE.tag})`, async () => {
    const intercomRow = () =>
      /^ROW=(.*)$/m.exec(
        planeShell(
          'from plane.license.models import InstanceConfiguration; print("ROW=%s" % InstanceConfiguration.objects.filter(key="IS_INTERCOM_ENABLED").values_list("value", flat=True).first())',
        ),
      )?.[1];
    if (RELEASE.intercom) {
      planeShell(
        'from plane.license.models import InstanceConfiguration; InstanceConfiguration.objects.filter(key="IS_INTERCOM_ENABLED").update(value="1")',
      );
      const run = provision(tokens);
      assert.equal(run.code, 0, run.output);
      assert.match(run.output, /instance settings updated 1/);
      assert.equal(intercomRow(), '0');
      assert.equal((await api('/api/instances/')).body.config.is_intercom_enabled, false);
    } else {
      // Nothing in the release reads it (a row left by an older release stays, unread).
      planeShell(
        'from plane.license.models import InstanceConfiguration; InstanceConfiguration.objects.filter(key="IS_INTERCOM_ENABLED").delete()',
      );
      const run = provision(tokens);
      assert.equal(run.code, 0, run.output);
      assert.match(run.output, /rows written: nothing$/m);
      assert.equal(intercomRow(), 'None');
      const { body } = await api('/api/instances/');
      assert.equal('is_intercom_enabled' in body.config, false, 'the release answers is_intercom_enabled: it has Intercom');
    }
  });

  it("refuses a sign-up through Plane's own form", async () => {
    const csrf = await request(`${BASE_URL}/auth/get-csrf-token/`);
    const cookie = (csrf.headers.get('set-cookie') ?? '').split(';')[0];
    const { csrf_token: csrfToken } = (await csrf.json()) as { csrf_token: string };
    const form = new URLSearchParams({
      csrfmiddlewaretoken: csrfToken,
      email: `intruder-${Date.now()}@example.org`,
      password: 'Str0ng-Passw0rd-2026!',
    });
    const response = await request(`${BASE_URL}/auth/sign-up/`, {
      method: 'POST',
      body: form,
      headers: { cookie, referer: `${BASE_URL}/` },
      redirect: 'manual',
    });
    assert.equal(response.status, 302);
    assert.match(response.headers.get('location') ?? '', /error_message=SIGNUP_DISABLED/);
  });

  it('an agent removed from the site loses its membership and token; put back, it has them again', async () => {
    const without = { ...spec, agents: spec.agents.filter((a: Manifest) => a.id !== 'messenger') };
    const removed = provision(tokens, without);
    assert.equal(removed.code, 0, removed.output);
    assert.match(removed.output, /api tokens deactivated \d+.*workspace members deactivated 1/);
    assert.equal((await api('/api/v1/users/me/', tokens[agentTokenVariable('messenger')])).status, REFUSED);
    assert.equal(isActiveMember('messenger@agents.javisi.local'), false);
    const back = provision(tokens);
    assert.equal(back.code, 0, back.output);
    assert.equal((await api('/api/v1/users/me/', tokens[agentTokenVariable('messenger')])).status, 200);
    assert.equal(isActiveMember('messenger@agents.javisi.local'), true);
    assert.equal((await listedMembers(tokens.PLANE_ADMIN_API_KEY)).get('messenger@agents.javisi.local'), 15);
  });

  it("a replaced token (a rotated Secret) works at once; the old one keeps working the site's overlap, then stops", async () => {
    const variable = agentTokenVariable('builder');
    const old = tokens[variable];
    tokens[variable] = token();
    const rotated = provision(tokens);
    assert.equal(rotated.code, 0, rotated.output);
    assert.match(rotated.output, /api tokens created 1, api tokens overlapping 1$/m);
    assert.equal((await api('/api/v1/users/me/', tokens[variable])).status, 200);
    assert.equal((await api('/api/v1/users/me/', old)).status, 200, `within the ${spec.tokens.overlapHours} h overlap`);
    const [fresh, previous] = tokenRows('builder');
    assert.equal(fresh.expiredAt, null, 'no lifetime: the new token never expires');
    const overlapMs = Date.parse(previous.expiredAt as string) - Date.parse(fresh.createdAt);
    assert.ok(
      Math.abs(overlapMs - spec.tokens.overlapHours * 3_600_000) < 1000,
      `the old token ends the overlap after the new one came: ${overlapMs} ms`,
    );
    const again = provision(tokens);
    assert.match(again.output, /rows written: nothing$/m, 'a second run within the overlap writes nothing');
    // The overlap passes: the next run stops the old token.
    ageTokens('builder', spec.tokens.overlapHours + 1);
    const after = provision(tokens);
    assert.match(after.output, /api tokens deactivated \d+/);
    assert.equal((await api('/api/v1/users/me/', old)).status, REFUSED);
    assert.equal((await api('/api/v1/users/me/', tokens[variable])).status, 200);
  });

  it('with the overlap set to 0 for a leaked token, the old one stops at once', async () => {
    const variable = agentTokenVariable('builder');
    const leaked = tokens[variable];
    tokens[variable] = token();
    const revoked = provision(tokens, undefined, '', { [OVERLAP_OVERRIDE_VARIABLE]: '0' });
    assert.equal(revoked.code, 0, revoked.output);
    assert.equal((await api('/api/v1/users/me/', leaked)).status, REFUSED);
    assert.equal((await api('/api/v1/users/me/', tokens[variable])).status, 200);
  });

  it('with a lifetime, a token expires that long after it was made, Plane refuses it then, and the run says so', async () => {
    const lifetime = { ...spec, tokens: { lifetimeDays: 30, overlapHours: 24 } };
    const first = provision(tokens, lifetime);
    assert.equal(first.code, 0, first.output);
    const [row] = tokenRows('writer');
    assert.equal(Date.parse(row.expiredAt as string) - Date.parse(row.createdAt), 30 * 86_400_000, 'expires 30 days after it was made');
    assert.match(provision(tokens, lifetime).output, /rows written: nothing$/m, 'a second run writes nothing');
    const writer = tokens[agentTokenVariable('writer')];
    assert.equal((await api('/api/v1/users/me/', writer)).status, 200);
    ageTokens('writer', 31 * 24);
    const expired = provision(tokens, lifetime);
    assert.equal(expired.code, 0, expired.output);
    assert.match(expired.output, /^provision: warning: agent writer's token expired at \S+: rotate it/m);
    assert.equal((await api('/api/v1/users/me/', writer)).status, REFUSED, 'Plane enforces expired_at');
    // Lifetime removed from the site: the token never expires again.
    const back = provision(tokens);
    assert.equal(back.code, 0, back.output);
    assert.equal(tokenRows('writer')[0].expiredAt, null);
    assert.equal((await api('/api/v1/users/me/', writer)).status, 200);
  });

  it('refuses a Plane version it was not written for, with one clear line', () => {
    // In the shell itself: a wrapper that sets the backend's environment would override a variable given to it.
    const result = provision(tokens, undefined, 'import os; os.environ["APP_VERSION"] = "v1.3.0"; ');
    assert.notEqual(result.code, 0);
    assert.ok(
      result.output.includes(
        `provision failed: Plane v1.3.0 is not a version this provisioning was written for (${SUPPORTED_PLANE_TAGS.join(', ')})`,
      ),
      result.output,
    );
    assert.doesNotMatch(result.output, /Traceback/);
  });

  it('an unexpected database error is one line with any token masked, no traceback', () => {
    const variable = agentTokenVariable('writer');
    tokens[variable] = token();
    // Fault injection: the token's insert fails as a unique-key violation would, quoting the row.
    const inject =
      'from django.db import IntegrityError; from plane.db.models import APIToken; ' +
      'APIToken.objects.create = lambda **kw: (_ for _ in ()).throw(IntegrityError("duplicate key: Key (token)=(%s) already exists" % kw["token"])); ';
    const result = provision(tokens, undefined, inject);
    assert.equal(result.code, 1);
    assert.match(result.output, /^provision failed: IntegrityError: duplicate key: Key \(token\)=\(plane_api_<hidden>\) already exists$/m);
    assert.doesNotMatch(result.output, /Traceback|plane_api_[0-9a-f]{32}|<secret>/);
    const fixed = provision(tokens);
    assert.equal(fixed.code, 0, fixed.output);
  });

  it(
    "the api publishes no API-log task: the worker's log shows neither the task nor a token after the agents' calls",
    { skip: WORKER_LOG ? false : 'PLANE_TEST_WORKER_LOG not set' },
    async () => {
      for (const agent of spec.agents)
        await api(`/api/v1/workspaces/${spec.workspace.slug}/members/`, tokens[agentTokenVariable(agent.id)]);
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const log = fs.readFileSync(WORKER_LOG as string, 'utf8').slice(workerLogStart);
      assert.ok(!log.includes('process_logs'), 'the api published API-log tasks (run it with DJANGO_SETTINGS_MODULE as dist/ does)');
      assert.ok(!/plane_api_[0-9a-f]{32}/.test(log), "an API token is in the worker's log");
      assert.ok(!/unregistered task/i.test(log), 'the worker discarded an unregistered task');
    },
  );

  for (const [store, dir] of Object.entries(STORES)) {
    it(
      `${store} stores no token of the agents' calls`,
      { skip: dir ? false : `PLANE_TEST_${store === 'RabbitMQ' ? 'RABBITMQ' : 'REDIS'}_DIR not set` },
      async () => {
        const calls = 3;
        for (let i = 0; i < calls; i++) {
          for (const agent of spec.agents)
            await api(`/api/v1/workspaces/${spec.workspace.slug}/members/`, tokens[agentTokenVariable(agent.id)]);
        }
        // The broker writes its message store within seconds; the cache would snapshot on its own schedule, or on a shutdown.
        await new Promise((resolve) => setTimeout(resolve, 5000));
        const values = spec.agents.map((a: { id: string }) => tokens[agentTokenVariable(a.id)]);
        const files = filesUnder(dir as string);
        const holding = files.filter((file) => {
          const content = fs.readFileSync(file).toString('latin1');
          return values.some((value: string) => content.includes(value)) || /plane_api_[0-9a-f]{32}/.test(content);
        });
        assert.deepEqual(holding.length, 0, `${holding.length} of ${files.length} files of ${store} hold a token`);
      },
    );
  }
});
