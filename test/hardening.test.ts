import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containersOf, EXPECTED_COMPONENTS, Manifest, podTemplates, siteWith, synth } from './helpers';

const manifests = synth();
const templates = podTemplates(manifests);
/** Namespace → the Pod Security level it enforces. */
const enforcedLevel = new Map<string, string>(
  manifests.filter((m) => m.kind === 'Namespace').map((ns) => [ns.metadata.name, ns.metadata.labels['pod-security.kubernetes.io/enforce']]),
);

/** Volume types the Pod Security "restricted" profile allows. */
const RESTRICTED_VOLUME_TYPES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

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
        assert.ok(
          Number.isInteger(pod.securityContext?.runAsUser) && pod.securityContext.runAsUser > 0,
          'runAsUser must be set and non-zero',
        );
        assert.ok(
          Number.isInteger(pod.securityContext?.runAsGroup) && pod.securityContext.runAsGroup > 0,
          'runAsGroup must be set and non-zero',
        );
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
      });

      it("mounts no service-account token (but the secrets bootstrap's and the keep-data guard's, valid 10 minutes), injects no service links, shares no host namespace", () => {
        // Only the Job that creates Secrets and the one that applies the deletion guard talk to the API
        // server; their RBAC is checked in test/secrets.test.ts and test/keep-data.test.ts.
        const account = pod.serviceAccountName === undefined ? undefined : /^plane-(secrets|keep-data)-/.exec(name)?.[0].slice(0, -1);
        assert.equal(pod.serviceAccountName, account);
        // Never the automounted token (valid a year on k3s); a projected one of 600 s for the two Jobs.
        assert.equal(pod.automountServiceAccountToken, false);
        const tokens = (pod.volumes ?? [])
          .flatMap((v: Manifest) => v.projected?.sources ?? [])
          .filter((s: Manifest) => s.serviceAccountToken);
        assert.deepEqual(
          tokens.map((s: Manifest) => s.serviceAccountToken.expirationSeconds),
          account ? [600] : [],
        );
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          const mounted = (c.volumeMounts ?? []).some((m: Manifest) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount');
          assert.equal(mounted, account !== undefined, `${c.name} token mount`);
        }
        assert.equal(pod.enableServiceLinks, false);
        for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) assert.ok(!pod[field], `${field} must be off`);
      });

      it('uses only volume types the restricted profile allows, emptyDirs size-capped', () => {
        for (const volume of pod.volumes ?? []) {
          const types = Object.keys(volume).filter((k) => k !== 'name');
          assert.deepEqual(
            types.filter((t) => !RESTRICTED_VOLUME_TYPES.includes(t)),
            [],
            `volume ${volume.name}`,
          );
          if (volume.emptyDir) assert.ok(volume.emptyDir.sizeLimit, `emptyDir ${volume.name} has no sizeLimit`);
        }
      });

      for (const container of containersOf(template)) {
        it(`container ${container.name}: drops ALL capabilities, adds none (Caddy: NET_BIND_SERVICE), no escalation, read-only root`, () => {
          const sc = container.securityContext ?? {};
          assert.deepEqual(sc.capabilities?.drop, ['ALL']);
          if (sc.capabilities?.add !== undefined) {
            // The one capability "restricted" lets a container add back, and only for the official Caddy
            // image: its binary carries cap_net_bind_service=+ep, and execve fails with EPERM unless that
            // capability is in the bounding set (test/edge/capability.test.ts shows it with a real kernel).
            assert.deepEqual(sc.capabilities.add, ['NET_BIND_SERVICE']);
            assert.match(container.image, /^docker\.io\/library\/caddy:/);
          }
          assert.equal(sc.allowPrivilegeEscalation, false);
          assert.equal(sc.privileged, false);
          assert.equal(sc.readOnlyRootFilesystem, true);
          assert.notEqual(sc.runAsUser, 0);
        });

        it(`container ${container.name}: pinned image pulled IfNotPresent, host ports only where the namespace allows them`, () => {
          assert.match(container.image, /:(v?\d+\.\d+[\w.-]*)$|@sha256:[a-f0-9]{64}$/, `image ${container.image} is not pinned`);
          assert.equal(container.imagePullPolicy, 'IfNotPresent');
          for (const port of (container.ports ?? []).filter((p: Manifest) => p.hostPort !== undefined)) {
            // A hostPort (Caddy, to see the real client address) is refused by "baseline" and "restricted":
            // only in a namespace that enforces "privileged", and bound to one address, never every node
            // address. Every other check of this file still holds for such a pod.
            assert.equal(
              enforcedLevel.get(workload.metadata.namespace),
              'privileged',
              `hostPort ${port.hostPort} in a ${enforcedLevel.get(workload.metadata.namespace)} namespace`,
            );
            assert.ok(port.hostIP, `hostPort ${port.hostPort} is not bound to one address (hostIP)`);
          }
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
    // beat-worker: /tmp holds its liveness file.
    'beat-worker': ['/code/plane/logs', '/tmp'],
    migrator: ['/code/plane/logs'],
    postgres: ['/tmp', '/var/lib/postgresql', '/var/run/postgresql'],
    redis: ['/data'],
    rabbitmq: ['/tmp', '/var/lib/rabbitmq', '/var/log/rabbitmq'],
    'object-store': ['/var/lib/garage'],
    // Caddy's autosave folder and its data folder (certificates come from the TLS Secret by default).
    caddy: ['/config', '/data'],
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

describe('namespaces', () => {
  const levels = (all: Manifest[], name: string) => {
    const ns = all.find((m) => m.kind === 'Namespace' && m.metadata.name === name);
    assert.ok(ns, `no namespace ${name}`);
    return ['enforce', 'warn', 'audit'].map((mode) => ns.metadata.labels[`pod-security.kubernetes.io/${mode}`]);
  };

  it("Plane's namespace enforces, warns and audits the restricted Pod Security Standard", () => {
    assert.deepEqual(levels(manifests, 'plane'), ['restricted', 'restricted', 'restricted']);
  });

  it("Caddy's namespace is privileged only for the hostPort exposure (warn too: apply prints no warning; audit restricted), restricted otherwise", () => {
    assert.deepEqual(levels(manifests, 'plane-edge'), ['privileged', 'privileged', 'restricted']);
    const loadBalancer = synth(
      siteWith((s) => {
        s.edge.exposure = 'loadBalancer';
      }),
    );
    assert.deepEqual(levels(loadBalancer, 'plane-edge'), ['restricted', 'restricted', 'restricted']);
    for (const { template } of podTemplates(loadBalancer)) {
      for (const c of containersOf(template)) for (const p of c.ports ?? []) assert.equal(p.hostPort, undefined);
    }
  });

  it('runs only Caddy in a namespace looser than restricted', () => {
    const loose = podTemplates(manifests).filter((t) => enforcedLevel.get(t.workload.metadata.namespace) !== 'restricted');
    assert.deepEqual(
      loose.map((t) => t.name),
      ['plane-caddy'],
    );
  });

  it('holds Plane and its data in plane, Caddy in plane-edge, and only the CoreDNS override in kube-system', () => {
    const clusterScoped = [
      'Namespace',
      'StorageClass',
      'ClusterRole',
      'ClusterRoleBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'PriorityClass',
    ];
    for (const m of manifests.filter((x) => !clusterScoped.includes(x.kind))) {
      if (m.kind === 'NetworkPolicy') {
        // Each namespace of the stack has its own default deny, DNS and component policies.
        assert.ok(['plane', 'plane-edge'].includes(m.metadata.namespace), `NetworkPolicy ${m.metadata.name}`);
        continue;
      }
      const expected =
        m.kind === 'ConfigMap' && m.metadata.name === 'coredns-custom'
          ? 'kube-system'
          : m.metadata.labels['app.kubernetes.io/name'] === 'caddy'
            ? 'plane-edge'
            : 'plane';
      assert.equal(m.metadata.namespace, expected, `${m.kind} ${m.metadata.name}`);
    }
  });
});
