/**
 * Keeping the data through any `kubectl delete -f dist`: the guard (an admission policy applied by a
 * Job, never in dist/ itself) matches every claim of the namespace and the namespace, by namespace and
 * not by name; the Job may apply exactly those two objects; the objects of dist/ that hold data carry
 * the keep label, and nothing else does; every data claim is on the retaining StorageClass. What the
 * API server does with them is tested on a real one (test/cluster/cluster.test.ts).
 */
import { kubeApiServer } from '../lib/network/site-peers';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { parseAllDocuments } from 'yaml';
import { KeepDataGuard } from '../lib/constructs/keep-data-guard';
import { HOLDS_DATA_LABEL, WorkloadLabels } from '../lib/labels';
import { find, Manifest, podTemplates, REPO_ROOT, siteWith, synth } from './helpers';

const manifests = synth();
const jobName = (all: Manifest[]) =>
  (all.find((m) => m.kind === 'Job' && m.metadata.name.startsWith('plane-keep-data-')) as Manifest).metadata.name;
const guardJob = manifests.find((m) => m.kind === 'Job' && m.metadata.name.startsWith('plane-keep-data-')) as Manifest;
const files = find(manifests, 'ConfigMap', 'plane-keep-data-files').data;
const objects = JSON.parse(files['keep-data.json']).objects as Manifest[];
const [policy, binding] = objects;
const SCRIPT = files['plane_k3s_keep_data.py'] as string;
const RUNBOOK = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'runbook.md'), 'utf8');

/** Every claim a manifest set asks for: PersistentVolumeClaims and StatefulSet claim templates. */
function claimsOf(all: Manifest[]): { name: string; namespace: string; spec: Manifest }[] {
  return all.flatMap((m) => {
    if (m.kind === 'PersistentVolumeClaim') return [{ name: m.metadata.name, namespace: m.metadata.namespace, spec: m.spec }];
    if (m.kind === 'StatefulSet')
      return (m.spec.volumeClaimTemplates ?? []).map((t: Manifest) => ({
        name: `${t.metadata.name}-${m.metadata.name}-0`,
        namespace: m.metadata.namespace,
        spec: t.spec,
      }));
    return [];
  });
}

describe('the keep-data guard', () => {
  it('refuses DELETE of the namespace and of every claim in it: by namespace, never by name (DeleteCollection, -l, --all)', () => {
    assert.equal(policy.kind, 'ValidatingAdmissionPolicy');
    assert.equal(policy.metadata.name, 'plane-keep-data');
    const constraints = policy.spec.matchConstraints;
    assert.deepEqual(constraints.namespaceSelector, { matchLabels: { 'kubernetes.io/metadata.name': 'plane' } });
    assert.equal(constraints.objectSelector, undefined, 'an object selector would let an unlabelled claim through');
    assert.deepEqual(constraints.resourceRules, [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['DELETE'],
        resources: ['namespaces', 'persistentvolumeclaims'],
        scope: '*',
      },
    ]);
    // resourceNames match nothing in a DeleteCollection (per-item admission carries an empty name).
    assert.ok(!JSON.stringify(policy).includes('resourceNames'));
    assert.equal(policy.spec.matchConditions, undefined);
    assert.equal(policy.spec.failurePolicy, 'Fail');
    assert.deepEqual(
      policy.spec.validations.map((v: Manifest) => v.expression),
      ['false'],
    );
    assert.equal(binding.kind, 'ValidatingAdmissionPolicyBinding');
    assert.deepEqual(binding.spec, { policyName: policy.metadata.name, validationActions: ['Deny'] });
    assert.equal(binding.metadata.name, policy.metadata.name);
  });

  it('its refusal names the keep-data command and the runbook section that deletes the data on purpose', () => {
    const message = policy.spec.validations[0].message as string;
    assert.ok(message.includes(`kubectl delete -f dist -l '!${HOLDS_DATA_LABEL}'`), message);
    const section = /docs\/runbook\.md, "([^"]+)"/.exec(message)?.[1] ?? '';
    assert.match(RUNBOOK, new RegExp(`^#+ ${section}$`, 'm'), `the runbook has no section "${section}"`);
  });

  it("is not in dist/: only its Job is, in the namespace's file, after the Namespace", () => {
    const dist = fs.readdirSync(path.join(REPO_ROOT, 'dist')).map((f) => ({
      file: f,
      docs: parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, 'dist', f), 'utf8')).map((d) => d.toJS() as Manifest),
    }));
    for (const { file, docs } of dist) {
      for (const m of docs.filter((d) => d.kind?.startsWith('ValidatingAdmissionPolicy'))) {
        assert.notEqual(m.metadata.name, policy.metadata.name, `${file}: the guard is deleted with dist/ when it is in it`);
        assert.ok(
          !m.spec.matchConstraints?.resourceRules?.some((r: Manifest) => r.resources.includes('namespaces')),
          `${file}: ${m.metadata.name} guards the namespace from within dist/`,
        );
      }
    }
    const first = dist.find((f) => f.file.startsWith('0000-'));
    const kinds = first?.docs.map((d) => `${d.kind}/${d.metadata.name}`) ?? [];
    assert.equal(kinds[0], 'Namespace/plane');
    assert.ok(kinds.includes(`Job/${guardJob.metadata.name}`), `${first?.file}: ${kinds}`);
  });

  it('runs its script with its own ServiceAccount, whose RBAC is exactly what the script does: apply the two named objects', () => {
    // What the script does: the client's apply (a forced server-side apply PATCH, which creates what is
    // missing) and no other call.
    assert.deepEqual(
      [...SCRIPT.matchAll(/api\.(\w+)\(/g)].map((m) => m[1]),
      ['apply'],
    );
    const client = files['plane_k3s_kube.py'] as string;
    assert.match(
      client,
      /def apply\(self, path, body, field_manager\):\n.*\n\s+return self\.call\("PATCH", path, body, "application\/apply-patch\+yaml", \{"fieldManager": field_manager, "force": "true"\}\)/,
    );
    const resources = [...SCRIPT.matchAll(/"ValidatingAdmissionPolicy(?:Binding)?": "([a-z]+)"/g)].map((m) => m[1]).sort();

    const role = find(manifests, 'ClusterRole', 'plane-keep-data');
    assert.deepEqual(role.rules, [
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources,
        resourceNames: [...new Set(objects.map((o) => o.metadata.name))],
        verbs: ['create', 'patch'],
      },
    ]);
    const roleBinding = find(manifests, 'ClusterRoleBinding', 'plane-keep-data');
    assert.deepEqual(roleBinding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'plane-keep-data' });
    assert.deepEqual(roleBinding.subjects, [{ kind: 'ServiceAccount', name: 'plane-keep-data', namespace: 'plane' }]);
    assert.equal(find(manifests, 'ServiceAccount', 'plane-keep-data').automountServiceAccountToken, false);
    const pod = guardJob.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'plane-keep-data');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.ok(
      pod.volumes.some((v: Manifest) => v.projected?.sources.some((s: Manifest) => s.serviceAccountToken?.expirationSeconds === 600)),
    );
    assert.deepEqual(pod.containers[0].command, ['python3', '/opt/plane-k3s/plane_k3s_keep_data.py']);
    assert.match(pod.containers[0].image, /plane-backend:v1\.2\.2$/);
    // Nothing else in the stack is bound to a ClusterRole.
    assert.deepEqual(
      manifests.filter((m) => m.kind === 'ClusterRoleBinding').map((m) => m.metadata.name),
      ['plane-keep-data'],
    );
  });

  it('runs again when the guard changes, not for other changes', () => {
    assert.equal(
      jobName(
        synth(
          siteWith((s) => {
            s.components.api.gunicornWorkers = 3;
          }),
        ),
      ),
      guardJob.metadata.name,
    );
    const guardWith = (message: string) => {
      const chart = new Chart(new App(), 'test');
      const labels = new WorkloadLabels({ instance: 'javisi', name: 'keep-data', zone: 'backend', version: 'v1' });
      const resources = { limits: { cpu: k8s.Quantity.fromString('100m'), memory: k8s.Quantity.fromString('64Mi') } };
      return new KeepDataGuard(chart, 'g', {
        namespace: 'plane',
        name: 'plane-keep-data',
        labels,
        image: 'x:1.0',
        runAs: { user: 1, group: 1 },
        resources,
        version: 'v1',
        message,
        apiServer: kubeApiServer(siteWith()),
      }).job.name;
    };
    assert.equal(guardWith('a'), guardWith('a'));
    assert.notEqual(guardWith('a'), guardWith('b'));
  });

  it('follows the namespace: another namespace gets its own policy, ClusterRole and selector', () => {
    const other = synth(
      siteWith((s) => {
        s.kubernetes.namespace = 'work';
      }),
    );
    const [otherPolicy] = JSON.parse(find(other, 'ConfigMap', 'work-keep-data-files').data['keep-data.json']).objects;
    assert.equal(otherPolicy.metadata.name, 'work-keep-data');
    assert.deepEqual(otherPolicy.spec.matchConstraints.namespaceSelector.matchLabels, { 'kubernetes.io/metadata.name': 'work' });
    assert.deepEqual(find(other, 'ClusterRole', 'work-keep-data').rules[0].resourceNames, ['work-keep-data']);
  });
});

describe('the objects that hold data', () => {
  const labelled = manifests.filter((m) => m.metadata.labels?.[HOLDS_DATA_LABEL] !== undefined);

  it(`carry ${HOLDS_DATA_LABEL}: the namespace, the retaining StorageClass, every claim of the namespace, and nothing else`, () => {
    assert.deepEqual(labelled.map((m) => `${m.kind}/${m.metadata.name}`).sort(), [
      'Namespace/plane',
      'PersistentVolumeClaim/plane-backup',
      'StorageClass/plane-retain',
    ]);
    assert.ok(labelled.every((m) => m.metadata.labels[HOLDS_DATA_LABEL] === 'true'));
    const claims = manifests.filter((m) => m.kind === 'PersistentVolumeClaim' && m.metadata.namespace === 'plane');
    assert.ok(claims.length > 0 && claims.every((c) => labelled.includes(c)));
    // No workload, Service, ConfigMap or policy of the namespace is kept by `delete -l '!…'`.
    const workloads = manifests.filter((m) => m.metadata.namespace === 'plane' && m.kind !== 'PersistentVolumeClaim');
    assert.ok(workloads.length > 50 && workloads.every((m) => !labelled.includes(m)));
    // Nor do the pods (a claim template's labels are the claims'; those claims are not in dist/).
    for (const { name, template } of podTemplates(manifests)) assert.equal(template.metadata?.labels?.[HOLDS_DATA_LABEL], undefined, name);
  });

  it('the edge namespace, which holds no data, is not labelled', () => {
    assert.equal(find(manifests, 'Namespace', 'plane-edge').metadata.labels[HOLDS_DATA_LABEL], undefined);
  });
});

describe('the retaining StorageClass', () => {
  it("is k3s' local-path provisioner with reclaim Retain, bound on first use", () => {
    const storageClass = find(manifests, 'StorageClass', 'plane-retain');
    assert.equal(storageClass.provisioner, 'rancher.io/local-path');
    assert.equal(storageClass.reclaimPolicy, 'Retain');
    assert.equal(storageClass.volumeBindingMode, 'WaitForFirstConsumer');
    assert.equal(
      storageClass.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'],
      undefined,
      "not the cluster's default",
    );
  });

  it("holds every data claim of the Javisi site: the four StatefulSets', the backups' and the edge's audit trail", () => {
    const claims = claimsOf(manifests);
    assert.deepEqual(claims.map((c) => c.name).sort(), [
      'data-plane-object-store-0',
      'data-plane-postgres-0',
      'data-plane-rabbitmq-0',
      'data-plane-redis-0',
      'plane-backup',
      'plane-caddy-audit-log',
    ]);
    for (const claim of claims) assert.equal(claim.spec.storageClassName, 'plane-retain', claim.name);
  });

  it('is made only when the site uses it: a site may name a class of its cluster', () => {
    const other = synth(
      siteWith((s) => {
        s.kubernetes.storageClass = 'longhorn';
      }),
    );
    assert.deepEqual(
      other.filter((m) => m.kind === 'StorageClass'),
      [],
    );
    assert.ok(claimsOf(other).every((c) => c.spec.storageClassName === 'longhorn'));
  });
});
