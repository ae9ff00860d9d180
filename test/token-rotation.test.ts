/**
 * Token lifetime and rotation in the manifests: nothing expires by default (no CronJob); with a lifetime,
 * the rotation CronJob runs with a ServiceAccount that may touch the agents' Secrets only, reads no
 * token from its environment, and reaches only what it uses. The rotation's behaviour against Plane and
 * the API server: test/plane/provisioning.test.ts and test/cluster/token-rotation.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'cdk8s';
import { ADMIN_SECRET, agentSecretName } from '../lib/plane/connection-secrets';
import { ROTATE_TOKENS_MODULE } from '../lib/plane/provisioning';
import { buildStack } from '../main';
import { find, Manifest, siteProblems, siteWith, synth } from './helpers';

const LIFETIME = { overlapHours: 24, lifetimeDays: 90, rotation: { schedule: '17 3 * * *', daysBeforeExpiry: 21 } };
const withLifetime = (tokens: object = LIFETIME) => siteWith((s) => (s.users.tokens = tokens));

const problemsOf = (tokens: object) => siteProblems((tree) => (tree.users.tokens = tokens));

describe('token lifetime and rotation', () => {
  it('by default no token expires: the provisioning spec has no lifetime, and there is no rotation CronJob', () => {
    const manifests = synth();
    const spec = JSON.parse(find(manifests, 'ConfigMap', 'plane-provisioning-files').data['users.json']);
    assert.deepEqual(spec.tokens, { lifetimeDays: null, overlapHours: 24 });
    assert.equal(
      manifests.filter((m) => m.metadata?.name === 'plane-token-rotation').length,
      0,
      'no CronJob, ServiceAccount or Role without a lifetime',
    );
  });

  it('with a lifetime, the CronJob runs the rotation module on the site schedule with the policy in its spec', () => {
    const manifests = synth(withLifetime());
    const cron = find(manifests, 'CronJob', 'plane-token-rotation');
    assert.equal(cron.spec.schedule, '17 3 * * *');
    assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
    const pod = cron.spec.jobTemplate.spec.template.spec;
    assert.match(pod.containers[0].command.join(' '), new RegExp(`import ${ROTATE_TOKENS_MODULE}; ${ROTATE_TOKENS_MODULE}.main\\(\\)`));
    const files = find(manifests, 'ConfigMap', 'plane-token-rotation-files').data;
    const spec = JSON.parse(files['token-rotation.json']);
    assert.deepEqual(spec.tokens, { lifetimeDays: 90, overlapHours: 24, rotateDaysBeforeExpiry: 21 });
    assert.deepEqual(
      spec.agents.map((a: { secret: string }) => a.secret),
      siteWith().users.agents.map((a) => agentSecretName(a.id)),
    );
    assert.deepEqual(Object.keys(files).sort(), [
      'plane_k3s_kube.py',
      'plane_k3s_provision.py',
      'plane_k3s_rotate_tokens.py',
      'token-rotation.json',
    ]);
    const provisioning = JSON.parse(find(manifests, 'ConfigMap', 'plane-provisioning-files').data['users.json']);
    assert.deepEqual(provisioning.tokens, { lifetimeDays: 90, overlapHours: 24 });
  });

  it("its ServiceAccount may get and patch the agents' Secrets by name, nothing else (not the admin's)", () => {
    const manifests = synth(withLifetime());
    const roles = manifests.filter((m) => m.kind === 'Role' && m.metadata.name === 'plane-token-rotation');
    assert.equal(roles.length, 1);
    const agentSecrets = siteWith().users.agents.map((a) => agentSecretName(a.id));
    assert.deepEqual(roles[0].rules, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: [...agentSecrets].sort(), verbs: ['get', 'patch'] },
    ]);
    assert.ok(!roles[0].rules[0].resourceNames.includes(ADMIN_SECRET), "the admin's Secret holds a password: out of reach");
    const binding = find(manifests, 'RoleBinding', 'plane-token-rotation');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'plane-token-rotation', namespace: 'plane' }]);
    const pod = find(manifests, 'CronJob', 'plane-token-rotation').spec.jobTemplate.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'plane-token-rotation');
    assert.equal(pod.automountServiceAccountToken, false, 'a short-lived projected token, not the automounted one');
    assert.ok(
      pod.volumes.some((v: Manifest) => v.projected?.sources?.some((s: Manifest) => s.serviceAccountToken?.expirationSeconds === 600)),
    );
  });

  it('reads no API token from its environment: it reads the Secret it replaces through the API server', () => {
    const pod = find(synth(withLifetime()), 'CronJob', 'plane-token-rotation').spec.jobTemplate.spec.template.spec;
    const refs = (pod.containers[0].env ?? []).flatMap((e: Manifest) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    assert.ok(refs.length > 0, 'the database password comes from its Secret');
    for (const ref of refs) assert.doesNotMatch(ref.name, /^plane-(agent-|admin$)/, `${ref.name}/${ref.key}`);
  });

  it('reaches the API server and the backend services only, as its NetworkPolicy says', () => {
    const stack = buildStack(new App({ outdir: 'unused' }), withLifetime());
    const rotation = stack.workloads.find((w) => w.name === 'plane-token-rotation');
    assert.ok(rotation);
    const targets = rotation.calls.map((c) => c.to.name).sort();
    assert.ok(targets.includes('kube-apiserver'), targets.join(', '));
    assert.ok(targets.includes('plane-postgres'), targets.join(', '));
    const policy = find(synth(withLifetime()), 'NetworkPolicy', 'plane-token-rotation');
    assert.deepEqual(policy.spec.policyTypes.sort(), ['Egress', 'Ingress']);
    assert.equal(policy.spec.ingress, undefined, 'nothing calls it');
  });

  describe('the site file', () => {
    const cases: [string, object, RegExp][] = [
      [
        'a lifetime without its rotation',
        { overlapHours: 24, lifetimeDays: 90 },
        /^users\.tokens\.rotation: a token lifetime needs its rotation: add rotation:/,
      ],
      [
        'a rotation without a lifetime',
        { overlapHours: 24, rotation: LIFETIME.rotation },
        /^users\.tokens\.rotation: rotation without lifetimeDays/,
      ],
      ['a lifetime under 30 days', { ...LIFETIME, lifetimeDays: 7 }, /^users\.tokens\.lifetimeDays: expected at least 30 days/],
      [
        'a rotation after verify starts warning',
        { ...LIFETIME, rotation: { ...LIFETIME.rotation, daysBeforeExpiry: 10 } },
        /^users\.tokens\.rotation\.daysBeforeExpiry: expected at least 15 days \(verify warns 14 days/,
      ],
      [
        'a rotation window that leaves under a week of use',
        { ...LIFETIME, lifetimeDays: 30, rotation: { ...LIFETIME.rotation, daysBeforeExpiry: 28 } },
        /^users\.tokens\.rotation\.daysBeforeExpiry: 28 days before a 30-day lifetime .* at most 23$/,
      ],
      ['an overlap over a week', { ...LIFETIME, overlapHours: 200 }, /^users\.tokens\.overlapHours: expected at most 168 hours/],
      ['a misspelt key', { overlapHours: 24, lifetime: 90 }, /^users\.tokens\.lifetime: unknown key/],
    ];
    for (const [title, tokens, expected] of cases) {
      it(`refuses ${title}, naming the field`, () => {
        const problems = problemsOf(tokens);
        assert.ok(
          problems.some((p) => expected.test(p)),
          `expected ${expected}, got:\n${problems.join('\n') || '(accepted)'}`,
        );
      });
    }
    it('accepts no lifetime, and a lifetime with its rotation', () => {
      assert.deepEqual(problemsOf({ overlapHours: 0 }), []);
      assert.deepEqual(problemsOf(LIFETIME), []);
    });
  });
});
