import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containersOf, EXPECTED_COMPONENTS, Manifest, podTemplates, synth } from './helpers';

const manifests = synth();
const templates = podTemplates(manifests);

/** Volume types the Pod Security "restricted" profile allows. */
const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

describe('hardening of every pod template', () => {
  it('covers every Plane and data component', () => {
    const names = templates.map((t) => t.template.metadata.labels['app.kubernetes.io/name']);
    for (const component of EXPECTED_COMPONENTS) assert.ok(names.includes(component), `missing component ${component}`);
  });

  for (const { kind, name, workload, template } of templates) {
    describe(`${kind} ${name}`, () => {
      const pod = template.spec;

      it('runs as an explicit non-root user and group with RuntimeDefault seccomp', () => {
        assert.equal(pod.securityContext?.runAsNonRoot, true);
        assert.ok(Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext.runAsUser > 0, 'runAsUser must be set and non-zero');
        assert.ok(Number.isInteger(pod.securityContext?.runAsGroup) && pod.securityContext.runAsGroup > 0, 'runAsGroup must be set and non-zero');
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
      });

      it('mounts no service-account token, injects no service links, shares no host namespace', () => {
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(pod.enableServiceLinks, false);
        for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) assert.ok(!pod[field], `${field} must be off`);
      });

      it('uses only volume types the restricted profile allows, emptyDirs size-capped', () => {
        for (const volume of pod.volumes ?? []) {
          const types = Object.keys(volume).filter((k) => k !== 'name');
          assert.deepEqual(types.filter((t) => !RESTRICTED_VOLUME_TYPES.includes(t)), [], `volume ${volume.name}`);
          if (volume.emptyDir) assert.ok(volume.emptyDir.sizeLimit, `emptyDir ${volume.name} has no sizeLimit`);
        }
      });

      for (const container of containersOf(template)) {
        it(`container ${container.name}: drops ALL capabilities, adds none, no escalation, read-only root`, () => {
          const sc = container.securityContext ?? {};
          assert.deepEqual(sc.capabilities?.drop, ['ALL']);
          assert.equal(sc.capabilities?.add, undefined);
          assert.equal(sc.allowPrivilegeEscalation, false);
          assert.equal(sc.privileged, false);
          assert.equal(sc.readOnlyRootFilesystem, true);
          assert.notEqual(sc.runAsUser, 0);
        });

        it(`container ${container.name}: pinned image pulled IfNotPresent, no host ports`, () => {
          assert.match(container.image, /:(v?\d+\.\d+[\w.-]*)$|@sha256:[a-f0-9]{64}$/, `image ${container.image} is not pinned`);
          assert.equal(container.imagePullPolicy, 'IfNotPresent');
          for (const port of container.ports ?? []) assert.equal(port.hostPort, undefined, 'hostPort is not allowed');
        });

        it(`container ${container.name}: every mount refers to a declared volume`, () => {
          const declared = new Set((pod.volumes ?? []).map((v: Manifest) => v.name));
          const claims = new Set((workload.spec.volumeClaimTemplates ?? []).map((c: Manifest) => c.metadata.name));
          for (const mount of container.volumeMounts ?? []) {
            assert.ok(declared.has(mount.name) || claims.has(mount.name), `mount ${mount.mountPath} uses undeclared volume ${mount.name}`);
          }
        });
      }
    });
  }
});

describe('writable paths: exactly what each image writes', () => {
  // From the images (reference and lib/plane/images.ts): with a read-only root, a missing path crashes the pod.
  const expected: Record<string, string[]> = {
    web: ['/run', '/var/cache/nginx'],
    admin: ['/run', '/var/cache/nginx'],
    space: ['/tmp'],
    live: [],
    api: ['/code/plane/logs', '/code/plane/static-assets', '/tmp'],
    worker: ['/code/plane/logs', '/tmp'],
    'beat-worker': ['/code/plane/logs'],
    migrator: ['/code/plane/logs'],
    postgres: ['/tmp', '/var/lib/postgresql', '/var/run/postgresql'],
    redis: ['/data'],
    rabbitmq: ['/tmp', '/var/lib/rabbitmq', '/var/log/rabbitmq'],
    'object-store': ['/var/lib/garage'],
  };
  for (const [component, paths] of Object.entries(expected)) {
    it(component, () => {
      const ref = templates.find((t) => t.template.metadata.labels['app.kubernetes.io/name'] === component);
      assert.ok(ref, `no workload for ${component}`);
      const volumes = new Map<string, Manifest>((ref.template.spec.volumes ?? []).map((v: Manifest) => [v.name, v]));
      const writable = containersOf(ref.template)
        .flatMap((c) => c.volumeMounts ?? [])
        .filter((m: Manifest) => !m.readOnly && (volumes.get(m.name)?.emptyDir || !volumes.has(m.name)))
        .map((m: Manifest) => m.mountPath)
        .sort();
      assert.deepEqual(writable, paths);
    });
  }
});

describe('namespace', () => {
  it('enforces, warns and audits the restricted Pod Security Standard', () => {
    const namespaces = manifests.filter((m) => m.kind === 'Namespace');
    assert.ok(namespaces.length >= 1);
    for (const ns of namespaces.filter((n) => n.metadata.name === 'plane')) {
      for (const mode of ['enforce', 'warn', 'audit']) {
        assert.equal(ns.metadata.labels[`pod-security.kubernetes.io/${mode}`], 'restricted', mode);
      }
    }
  });

  it('holds every namespaced object of the stack in a namespace dist/ creates', () => {
    const clusterScoped = ['Namespace', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];
    const namespaces = manifests.filter((m) => m.kind === 'Namespace').map((m) => m.metadata.name);
    for (const m of manifests.filter((x) => !clusterScoped.includes(x.kind))) {
      assert.ok(namespaces.includes(m.metadata.namespace), `${m.kind} ${m.metadata.name} is in namespace ${m.metadata.namespace}`);
    }
  });

  it('refuses the deletion of the namespace that holds the data volumes', () => {
    const policy = manifests.find((m) => m.kind === 'ValidatingAdmissionPolicy') as Manifest;
    const [rule] = policy.spec.matchConstraints.resourceRules;
    assert.deepEqual({ operations: rule.operations, resources: rule.resources, resourceNames: rule.resourceNames }, { operations: ['DELETE'], resources: ['namespaces'], resourceNames: ['plane'] });
    assert.deepEqual(policy.spec.validations.map((v: Manifest) => v.expression), ['false']);
    const binding = manifests.find((m) => m.kind === 'ValidatingAdmissionPolicyBinding') as Manifest;
    assert.equal(binding.spec.policyName, policy.metadata.name);
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
  });
});
