/**
 * verify's agent checks against Plane's real v1.2.2 backend (developer-pointed, see ./harness.ts; skipped
 * otherwise): each agent's own token on a workspace endpoint (a deactivated membership fails, though
 * users/me still answers), and each token's row as verify reads it from Plane's database (expiry, last
 * use, the overlap of a replaced token).
 *
 *   PLANE_TEST_PGHOST, PLANE_TEST_PGPORT, PLANE_TEST_PGUSER, PLANE_TEST_PGDATABASE, PLANE_TEST_PGPASSWORD
 *                         Plane's database, as Plane's own user (the token rows)
 *
 * It writes into that backend's database (the site's agents and their tokens): use a throw-away one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { agentTokenVariable } from '../../lib/plane/provisioning';
import { judgeTokenState, readTokenState } from '../../ops/agent-tokens';
import { agentAccess, judgeAgentAccess } from '../../ops/verify';
import { ageTokens, newTokens, planeApi, planeShell, provision, skip, spec, token, Tokens } from './harness';

const PG = {
  host: process.env.PLANE_TEST_PGHOST,
  port: Number(process.env.PLANE_TEST_PGPORT),
  user: process.env.PLANE_TEST_PGUSER,
  password: process.env.PLANE_TEST_PGPASSWORD,
  database: process.env.PLANE_TEST_PGDATABASE,
};
const FIXES = { provisioning: 'run provisioning', rotate: 'rotate it' };

function setMembership(email: string, active: boolean): void {
  planeShell(
    'from plane.db.models import WorkspaceMember; ' +
      `WorkspaceMember.objects.filter(workspace__slug="${spec.workspace.slug}", member__email="${email}").update(is_active=${active ? 'True' : 'False'})`,
  );
}

describe("verify's agent checks against Plane's real backend", { skip, concurrency: 1 }, () => {
  let tokens: Tokens;
  const api = planeApi();

  before(() => {
    tokens = newTokens();
    const run = provision(tokens);
    assert.equal(run.code, 0, run.output);
  });

  it("passes every agent whose own token reaches the workspace's projects", async () => {
    for (const agent of spec.agents) {
      const access = await agentAccess(api, tokens[agentTokenVariable(agent.id)]);
      const judged = judgeAgentAccess(agent.email, spec.workspace.slug, access, 'fix', `token/${agent.id}`);
      assert.equal(judged.status, 'pass', `${agent.id}: ${judged.detail}`);
    }
  });

  it('fails an agent whose membership is deactivated, though users/me still answers', async () => {
    const builder = spec.agents.find((a: { id: string }) => a.id === 'builder');
    setMembership(builder.email, false);
    try {
      const access = await agentAccess(api, tokens[agentTokenVariable('builder')]);
      assert.equal(access.me.status, 200, 'users/me answers for any valid token');
      const judged = judgeAgentAccess(builder.email, spec.workspace.slug, access, 'fix', 'token/builder');
      assert.equal(judged.status, 'fail');
      assert.match(judged.detail, /workspaces\/javisi\/projects\/ → 403: not an active member of the workspace/);
    } finally {
      setMembership(builder.email, true);
    }
  });

  describe("each token's row, as verify reads it from Plane's database", () => {
    const client = new Client(PG);
    before(() => client.connect());
    after(async () => {
      await client.end();
      assert.equal(provision(tokens).code, 0, 'back to tokens that never expire');
    });

    it('without a lifetime: never expires, and the last use is the call just made', async () => {
      const writer = tokens[agentTokenVariable('writer')];
      await agentAccess(api, writer);
      const state = await readTokenState(client, writer);
      assert.ok(state?.lastUsed && Date.now() - state.lastUsed.getTime() < 60_000, 'last used within the minute');
      const judged = judgeTokenState('writer', state, FIXES);
      assert.equal(judged.status, 'pass');
      assert.match(judged.detail, /^never expires; last used \S+ \S+ UTC \(\d+ min ago\)/);
      assert.equal(judgeTokenState('writer', await readTokenState(client, token()), FIXES).status, 'fail', 'a token Plane lacks');
    });

    it('with a lifetime: passes with the days left, warns 14 days before, fails once expired', async () => {
      const lifetime = { ...spec, tokens: { lifetimeDays: 30, overlapHours: 24 } };
      assert.equal(provision(tokens, lifetime).code, 0);
      const writer = tokens[agentTokenVariable('writer')];
      assert.match(judgeTokenState('writer', await readTokenState(client, writer), FIXES).detail, /^expires \S+ \S+ UTC \(29 days\)/);
      ageTokens('writer', 20 * 24);
      assert.equal(provision(tokens, lifetime).code, 0);
      const soon = judgeTokenState('writer', await readTokenState(client, writer), FIXES);
      assert.equal(soon.status, 'warn');
      assert.match(soon.detail, /in 9 days: it has not been rotated/);
      ageTokens('writer', 11 * 24);
      assert.equal(provision(tokens, lifetime).code, 0);
      assert.equal(judgeTokenState('writer', await readTokenState(client, writer), FIXES).status, 'fail');
    });

    it('after a rotation: the new token passes and says until when the replaced one works', async () => {
      const variable = agentTokenVariable('tutor');
      const old = tokens[variable];
      tokens[variable] = token();
      assert.equal(provision(tokens).code, 0);
      const judged = judgeTokenState('tutor', await readTokenState(client, tokens[variable]), FIXES);
      assert.equal(judged.status, 'pass');
      assert.match(judged.detail, /; the token it replaced works until \S+ \S+ UTC$/);
      assert.equal((await readTokenState(client, old))?.active, true, 'still active within the overlap');
    });
  });
});
