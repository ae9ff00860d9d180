/**
 * The stack's Secrets are made in the cluster by the bootstrap Job: every Secret a pod reads is in its
 * spec with every key, in a URL-safe format; its Role can create Secrets and read only those; the
 * per-agent connection Secrets have the MCP server's shape. The generator itself runs here (python3).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { componentTemplate, find, Manifest, podTemplates, REPO_ROOT, siteWith, synth } from './helpers';

const manifests = synth();
const bootstrapJob = manifests.find((m) => m.kind === 'Job' && m.metadata.name.startsWith('plane-secrets-')) as Manifest;
const spec = JSON.parse(find(manifests, 'ConfigMap', 'plane-secrets-files').data['secrets.json']);
const specKeys = (name: string) => Object.keys(spec.secrets.find((s: Manifest) => s.name === name)?.keys ?? {});

/** Operator-provided Secrets: the edge's certificate (tls mode secret) and a DNS provider token. */
const OPERATOR_SECRETS = new Set(['plane-edge-tls']);

function referencedSecretKeys(all: Manifest[]): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (name: string, key: string) => found.set(name, (found.get(name) ?? new Set()).add(key));
  for (const { template } of podTemplates(all)) {
    for (const container of template.spec.containers) {
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) add(ref.name, ref.key);
      }
    }
    for (const volume of template.spec.volumes ?? []) if (volume.secret) add(volume.secret.secretName, '*');
  }
  return found;
}

describe('secrets made in the cluster', () => {
  it("covers every Secret and key a pod reads, but the operator's certificate", () => {
    for (const [name, keys] of referencedSecretKeys(manifests)) {
      if (OPERATOR_SECRETS.has(name)) continue;
      for (const key of keys) assert.ok(specKeys(name).includes(key), `${name}/${key} is read by a pod but not made`);
    }
    const made = spec.secrets.map((s: Manifest) => s.name);
    const read = [...referencedSecretKeys(manifests).keys()].filter((n) => !OPERATOR_SECRETS.has(n));
    assert.deepEqual([...made].sort(), [...read].sort(), "every Secret made is read by some pod (the agents' by provisioning)");
  });

  it('makes each value in a URL-safe format fit for its use', () => {
    const formats = Object.fromEntries(
      spec.secrets.flatMap((s: Manifest) => Object.entries(s.keys).map(([key, source]) => [`${s.name}/${key}`, source])),
    );
    assert.deepEqual(formats['plane-app/secret-key'], { generate: 'hex32' });
    assert.deepEqual(formats['plane-postgres/password'], { generate: 'hex24' });
    assert.deepEqual(formats['plane-object-store/access-key-id'], { generate: 'garage-key-id' });
    assert.deepEqual(formats['plane-object-store/rpc-secret'], { generate: 'hex32' });
    assert.deepEqual(formats['plane-agent-builder/PLANE_API_KEY'], { generate: 'plane-api-token' });
  });

  it("gives the admin and each agent a connection Secret in the shape of Plane's MCP server", () => {
    const site = siteWith();
    for (const name of ['plane-admin', ...site.users.agents.map((a) => `plane-agent-${a.id}`)]) {
      const keys = spec.secrets.find((s: Manifest) => s.name === name)?.keys;
      assert.ok(keys, `no Secret ${name}`);
      assert.deepEqual(keys.PLANE_API_KEY, { generate: 'plane-api-token' });
      assert.deepEqual(keys.PLANE_BASE_URL, { value: 'https://work.ewutelo.cloud' });
      assert.deepEqual(keys.PLANE_WORKSPACE_SLUG, { value: 'javisi' });
    }
    assert.deepEqual(specKeys('plane-admin').sort(), ['PLANE_API_KEY', 'PLANE_BASE_URL', 'PLANE_WORKSPACE_SLUG', 'password']);
  });

  it('lets its ServiceAccount create Secrets and read only the ones it makes, nothing else', () => {
    const role = find(manifests, 'Role', 'plane-secrets');
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: spec.secrets.map((s: Manifest) => s.name), verbs: ['get'] },
    ]);
    const binding = find(manifests, 'RoleBinding', 'plane-secrets');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'plane-secrets', namespace: 'plane' }]);
    assert.equal(bootstrapJob.spec.template.spec.serviceAccountName, 'plane-secrets');
    // The other RBAC objects are the keep-data guard's (test/keep-data.test.ts).
    assert.deepEqual(
      manifests
        .filter((m) => ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(m.kind))
        .map((m) => `${m.kind}/${m.metadata.name}`)
        .sort(),
      ['ClusterRole/plane-keep-data', 'ClusterRoleBinding/plane-keep-data', 'Role/plane-secrets', 'RoleBinding/plane-secrets'],
    );
  });

  it('runs again when the list of Secrets changes (a new agent), not for other changes', () => {
    const name = (all: Manifest[]) =>
      (all.find((m) => m.kind === 'Job' && m.metadata.name.startsWith('plane-secrets-')) as Manifest).metadata.name;
    const added = synth(
      siteWith((s) => {
        s.users.agents.push({ id: 'scribe', email: 'scribe@agents.javisi.local', displayName: 'Scribe (Notes AI)', role: 'Member' });
      }),
    );
    assert.notEqual(name(added), bootstrapJob.metadata.name);
    assert.ok(
      JSON.parse(find(added, 'ConfigMap', 'plane-secrets-files').data['secrets.json']).secrets.some(
        (s: Manifest) => s.name === 'plane-agent-scribe',
      ),
    );
    assert.equal(
      name(
        synth(
          siteWith((s) => {
            s.components.api.gunicornWorkers = 3;
          }),
        ),
      ),
      bootstrapJob.metadata.name,
    );
  });

  it('puts no Secret and no secret value in the manifests', () => {
    assert.deepEqual(
      manifests.filter((m) => m.kind === 'Secret'),
      [],
    );
    // assert.ok, not doesNotMatch: a failure must not print the manifests (nor a value).
    assert.ok(!/plane_api_[0-9a-f]{32}/.test(JSON.stringify(manifests)), 'an API token is written in the manifests');
  });

  it("generates each format as its consumers expect (the Job's own code, run with python3)", () => {
    const script = path.join(REPO_ROOT, 'lib', 'plane', 'secrets');
    const output = execFileSync(
      'python3',
      [
        '-c',
        [
          'import sys; sys.path[:0] = sys.argv[1:3]; import plane_k3s_secrets as s',
          'for kind in ("hex16", "hex24", "hex32", "garage-key-id", "plane-api-token"):',
          '    a, b = s.generate(kind), s.generate(kind); print(kind, len(a), a[:10] if kind != "hex32" else "", a != b)',
        ].join('\n'),
        script,
        path.join(REPO_ROOT, 'lib', 'kube'),
      ],
      { encoding: 'utf8' },
    );
    const lines = Object.fromEntries(
      output
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], l]),
    );
    assert.match(lines.hex16, /^hex16 32 [0-9a-f]{10} True$/);
    assert.match(lines.hex24, /^hex24 48 [0-9a-f]{10} True$/);
    assert.match(lines.hex32, /^hex32 64  True$/);
    assert.match(lines['garage-key-id'], /^garage-key-id 26 GK[0-9a-f]{8} True$/);
    assert.match(lines['plane-api-token'], /^plane-api-token 42 plane_api_ True$/);
  });

  it("the provisioning Job reads each agent's token from its connection Secret", () => {
    const container = componentTemplate(manifests, 'provisioning').template.spec.containers[0];
    const tokens = (container.env as Manifest[]).filter((e) => e.name.startsWith('PLANE_AGENT_API_KEY_'));
    assert.equal(tokens.length, siteWith().users.agents.length);
    assert.deepEqual(tokens.find((e) => e.name === 'PLANE_AGENT_API_KEY_BUILDER')?.valueFrom.secretKeyRef, {
      name: 'plane-agent-builder',
      key: 'PLANE_API_KEY',
    });
  });
});
