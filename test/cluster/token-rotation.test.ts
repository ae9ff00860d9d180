/**
 * The token-rotation CronJob of a site that gives tokens a lifetime, on a real control plane: its
 * ServiceAccount's rights as the API server's authorizer grants them, and (with Plane's real backend,
 * PLANE_TEST_MANAGE and PLANE_TEST_BASE_URL as for `npm run test:plane`; skipped otherwise) its script
 * from the stored ConfigMap, run as its pod would with a token of that ServiceAccount, against the
 * Secrets the bootstrap made and the Plane the provisioning converged.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentSecretName } from '../../lib/plane/connection-secrets';
import { agentTokenVariable, ROTATE_TOKENS_MODULE } from '../../lib/plane/provisioning';
import { synthesize } from '../../lib/synth';
import { buildStack } from '../../main';
import { siteWith } from '../helpers';
import { ageTokens, api, MANAGE, provision, skip as noPlane, Tokens } from '../plane/harness';
import { asJobPod, scratchDir, TestCluster } from './harness';

const NAMESPACE = 'plane';
const ACCOUNT = 'plane-token-rotation';
const LIFETIME_DAYS = 90;
const DUE_DAYS = 21;
const site = siteWith((s) => {
  s.users.tokens = { overlapHours: 24, lifetimeDays: LIFETIME_DAYS, rotation: { schedule: '17 3 * * *', daysBeforeExpiry: DUE_DAYS } };
});
const agents = site.users.agents.map((a) => a.id);

describe('token rotation on a real control plane', { concurrency: 1 }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = TestCluster.start();
    const outdir = path.join(scratchDir('plane-rotation-'), 'dist');
    synthesize(buildStack, { site, outdir });
    cluster.kubectlOk(['apply', '-f', path.join(outdir, '0000-namespace.k8s.yaml')]);
    cluster.kubectlOk(['apply', '-f', outdir]);
    // The Secrets, as the bootstrap Job makes them (its script, as its ServiceAccount).
    const pod = asJobPod(cluster, NAMESPACE, 'plane-secrets', 'plane-secrets-files');
    const made = spawnSync('python3', [path.join(pod.dir, 'plane_k3s_secrets.py')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...pod.env, PLANE_K3S_SPEC_FILE: path.join(pod.dir, 'secrets.json') },
    });
    pod.cleanup();
    assert.equal(made.status, 0, made.stderr);
  });

  after(() => cluster?.stop());

  const can = (verb: string, resource: string) =>
    cluster.kubectl(['auth', 'can-i', verb, resource, '-n', NAMESPACE, `--as=system:serviceaccount:${NAMESPACE}:${ACCOUNT}`]).stdout.trim();

  it("its ServiceAccount may get and patch each agent's Secret, and nothing else", () => {
    for (const id of agents) {
      assert.equal(can('get', `secret/${agentSecretName(id)}`), 'yes', id);
      assert.equal(can('patch', `secret/${agentSecretName(id)}`), 'yes', id);
      assert.equal(can('delete', `secret/${agentSecretName(id)}`), 'no', id);
      assert.equal(can('update', `secret/${agentSecretName(id)}`), 'no', id);
    }
    for (const other of ['plane-admin', 'plane-app', 'plane-postgres', 'plane-backup']) {
      assert.equal(can('get', `secret/${other}`), 'no', other);
      assert.equal(can('patch', `secret/${other}`), 'no', other);
    }
    assert.equal(can('list', 'secrets'), 'no');
    assert.equal(can('create', 'secrets'), 'no');
    assert.equal(can('get', 'pods'), 'no');
  });

  describe("replaces due tokens in Plane's real backend and in their Secrets", { skip: noPlane, concurrency: 1 }, () => {
    const secretData = async (name: string) => {
      const secret = await cluster.core.readNamespacedSecret({ name, namespace: NAMESPACE });
      return {
        token: Buffer.from(secret.data?.PLANE_API_KEY ?? '', 'base64').toString(),
        annotations: secret.metadata?.annotations ?? {},
        version: secret.metadata?.resourceVersion,
      };
    };
    const spec = () =>
      JSON.parse(
        JSON.parse(cluster.kubectlOk(['get', 'configmap', 'plane-provisioning-files', '-n', NAMESPACE, '-o', 'json']).stdout).data[
          'users.json'
        ],
      );
    /** The tokens of the cluster's Secrets, as the provisioning Job gets them. */
    const clusterTokens = async (): Promise<Tokens> => {
      const admin = await cluster.core.readNamespacedSecret({ name: 'plane-admin', namespace: NAMESPACE });
      const value = (key: string) => Buffer.from(admin.data?.[key] ?? '', 'base64').toString();
      const tokens: Tokens = { PLANE_ADMIN_PASSWORD: value('password'), PLANE_ADMIN_API_KEY: value('PLANE_API_KEY') };
      for (const id of agents) tokens[agentTokenVariable(id)] = (await secretData(agentSecretName(id))).token;
      return tokens;
    };
    const provisionFromCluster = async () => {
      const run = provision(await clusterTokens(), spec());
      assert.equal(run.code, 0, run.output);
      return run.output;
    };
    /** The CronJob's module, from its stored ConfigMap, through Plane's manage.py shell, as its ServiceAccount. */
    const rotate = () => {
      const pod = asJobPod(cluster, NAMESPACE, ACCOUNT, `${ACCOUNT}-files`);
      const result = spawnSync(MANAGE as string, ['shell', '--command', `import ${ROTATE_TOKENS_MODULE}; ${ROTATE_TOKENS_MODULE}.main()`], {
        encoding: 'utf8',
        env: { ...process.env, ...pod.env, PYTHONPATH: pod.dir, PLANE_K3S_SPEC_FILE: path.join(pod.dir, 'token-rotation.json') },
        timeout: 120_000,
      });
      pod.cleanup();
      const output = `${result.stdout}${result.stderr}`;
      assert.doesNotMatch(output, /plane_api_[0-9a-f]{32}/, 'no token printed');
      return { code: result.status, output };
    };

    const setRoleVerbs = (verbs: string[]) =>
      cluster.kubectlOk([
        'patch',
        'role',
        ACCOUNT,
        '-n',
        NAMESPACE,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: '/rules/0/verbs', value: verbs }]),
      ]);
    let oldBuilder: string;

    before(async () => {
      await provisionFromCluster();
      // 70 days pass for builder: its token expires in 20 days, within the 21-day window.
      ageTokens('builder', 70 * 24);
      await provisionFromCluster();
      oldBuilder = (await secretData(agentSecretName('builder'))).token;
    });

    it("rotates the due token: a new one in Plane and in the agent's Secret, the old one working through the overlap", async () => {
      const writerBefore = await secretData(agentSecretName('writer'));
      const run = rotate();
      assert.equal(run.code, 0, run.output);
      assert.match(run.output, /^rotate-tokens: builder: rotated; the old token works until \S+$/m);
      assert.match(run.output, /^rotate-tokens: writer: not due \(expires \S+\)$/m);
      const builder = await secretData(agentSecretName('builder'));
      assert.notEqual(builder.token, oldBuilder);
      assert.match(builder.token, /^plane_api_[0-9a-f]{32}$/);
      assert.match(builder.annotations['plane-k3s/token-rotated-at'] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d/);
      assert.deepEqual(await secretData(agentSecretName('writer')), writerBefore, 'a token not due is left alone');
      const me = await api('/api/v1/users/me/', builder.token);
      assert.equal(me.status, 200);
      assert.equal(me.body.email, 'builder@agents.javisi.local');
      assert.equal((await api('/api/v1/users/me/', oldBuilder)).status, 200, 'the old token works through the overlap');
    });

    it('a second run rotates nothing and changes no Secret', async () => {
      const before = await secretData(agentSecretName('builder'));
      const run = rotate();
      assert.equal(run.code, 0, run.output);
      assert.doesNotMatch(run.output, /rotated/);
      assert.equal(run.output.match(/: not due/g)?.length, agents.length);
      assert.deepEqual(await secretData(agentSecretName('builder')), before);
      assert.match(await provisionFromCluster(), /rows written: nothing$/m, 'the provisioning agrees with what the rotation wrote');
    });

    it('a Secret that refuses the new token leaves the old one in place and working; the next provisioning drops the new one', async () => {
      // The Role without patch: the API server refuses the Secret's update after Plane has the new token.
      setRoleVerbs(['get']);
      try {
        ageTokens('writer', 70 * 24);
        await provisionFromCluster();
        const writer = await secretData(agentSecretName('writer'));
        const run = rotate();
        assert.equal(run.code, 1, run.output);
        assert.match(
          run.output,
          /^rotate-tokens: writer: Secret plane-agent-writer refused the new token \(403 .*\); the old one keeps working until/m,
        );
        assert.deepEqual(await secretData(agentSecretName('writer')), writer, 'the Secret is unchanged');
        assert.equal((await api('/api/v1/users/me/', writer.token)).status, 200, "the Secret's token still works");
        assert.match(await provisionFromCluster(), /api tokens deactivated 1/, 'the token only Plane had is dropped');
        assert.equal((await api('/api/v1/users/me/', writer.token)).status, 200);
      } finally {
        setRoleVerbs(['get', 'patch']);
      }
      const again = rotate();
      assert.equal(again.code, 0, again.output);
      assert.match(again.output, /^rotate-tokens: writer: rotated/m, 'rotated at the next run');
      assert.equal((await api('/api/v1/users/me/', (await secretData(agentSecretName('writer'))).token)).status, 200);
    });
  });
});
