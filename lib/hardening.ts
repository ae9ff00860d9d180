/**
 * The one place pod hardening is written. Every Deployment, StatefulSet and Job of the stack builds its
 * pod spec through `hardenedPodSpec`, so a component cannot forget a setting (test/hardening.test.ts
 * checks every pod template of dist/ against the Pod Security "restricted" profile and more).
 */
import { k8s } from 'cdk8s-plus-28';
import { quantityToBytes } from './config/quantity';

/** Pod Security Standards levels, as namespace labels name them. */
export type PodSecurityLevel = 'restricted' | 'baseline' | 'privileged';

/** The numeric identity a container runs as; it must exist in (or be tolerated by) the image. */
export interface RunAs {
  readonly user: number;
  readonly group: number;
}

/** A container as a component describes it; hardening, pull policy and writable mounts are added here. */
export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly env?: k8s.EnvVar[];
  readonly envFrom?: k8s.EnvFromSource[];
  readonly ports?: k8s.ContainerPort[];
  readonly resources: k8s.ResourceRequirements;
  readonly startupProbe?: k8s.Probe;
  readonly readinessProbe?: k8s.Probe;
  readonly livenessProbe?: k8s.Probe;
  /** Paths the image writes to; each gets its own emptyDir, the root filesystem stays read-only. */
  readonly writablePaths?: string[];
  /** Mounts of volumes declared in `HardenedPodProps.volumes` (data volumes, config files). */
  readonly volumeMounts?: k8s.VolumeMount[];
  /**
   * Keep NET_BIND_SERVICE in the bounding set, the one capability the "restricted" profile lets a
   * container add back. Only for images whose binary carries it as a file capability with the
   * effective bit (the official Caddy image: `setcap cap_net_bind_service=+ep`): without it in the
   * bounding set, execve fails with EPERM even for a process that never binds a low port
   * (test/edge/capability.test.ts shows it on this kernel). @default false
   */
  readonly keepNetBindService?: boolean;
}

export interface HardenedPodProps {
  readonly runAs: RunAs;
  /**
   * The pod's PriorityClass (lib/constructs/priority-classes.ts): which pods the kubelet evicts first
   * under memory or disk pressure. Every pod has one, chosen by its workload's tier (priorityTier).
   */
  readonly priorityClassName: string;
  readonly containers: ContainerSpec[];
  /** Steps run one after the other, each to completion, before `containers`. @default none */
  readonly initContainers?: ContainerSpec[];
  /** Volumes other than the writable emptyDirs: PVCs, ConfigMaps, Secrets. */
  readonly volumes?: k8s.Volume[];
  /** @default "Always" (Deployments, StatefulSets); Jobs pass "OnFailure" or "Never". */
  readonly restartPolicy?: string;
  readonly topologySpreadConstraints?: k8s.TopologySpreadConstraint[];
  /** @default 30 */
  readonly terminationGracePeriodSeconds?: number;
  /** Pins the pod to nodes, e.g. the one whose address a hostPort binds. @default any node */
  readonly nodeSelector?: Record<string, string>;
  /**
   * A ServiceAccount whose token the pod needs to call the API server (only the secrets bootstrap).
   * @default none: no token is mounted
   */
  readonly serviceAccountName?: string;
}

export const CONTAINER_SECURITY_CONTEXT: k8s.SecurityContext = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

/** Cap on each writable emptyDir, so a runaway log or temp file cannot fill the node's disk. */
const WRITABLE_SIZE_LIMIT = k8s.Quantity.fromString('256Mi');

/**
 * What a container writes to the node's disk outside its volumes: its stdout and stderr, which the
 * kubelet keeps in files it rotates (k3s: 10 MiB a file, 5 files), and nothing in its root filesystem
 * (read-only). Requested: what a chatty container keeps; the limit leaves room for a rotation.
 */
export const CONTAINER_LOGS = { request: 32 * 2 ** 20, limit: 64 * 2 ** 20 } as const;
/** The resource the kubelet measures on the node's disk (logs, writable layer, emptyDirs). */
export const EPHEMERAL_STORAGE = 'ephemeral-storage';

/** Volume name for a writable path: "/code/plane/logs" → "writable-code-plane-logs". */
export function writableVolumeName(mountPath: string): string {
  const slug = mountPath
    .replace(/^\/+|\/+$/g, '')
    .replace(/[^a-z0-9]+/gi, '-')
    .toLowerCase();
  return `writable-${slug}`.slice(0, 63).replace(/-+$/, '');
}

/** The container security context, with NET_BIND_SERVICE kept when the image needs it to start. */
function containerSecurityContext(keepNetBindService: boolean): k8s.SecurityContext {
  if (!keepNetBindService) return CONTAINER_SECURITY_CONTEXT;
  return { ...CONTAINER_SECURITY_CONTEXT, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } };
}

export function hardenedPodSpec(props: HardenedPodProps): k8s.PodSpec {
  if (props.runAs.user === 0 || props.runAs.group === 0) {
    throw new Error('hardenedPodSpec: runAs user and group must not be 0 (root)');
  }
  for (const container of [...(props.initContainers ?? []), ...props.containers]) {
    for (const port of container.ports ?? []) {
      // A hostPort on 0.0.0.0 would open the port on every node address, the public one included.
      if (port.hostPort !== undefined && !port.hostIp) {
        throw new Error(`hardenedPodSpec: ${container.name} port ${port.containerPort}: a hostPort must be bound to one address (hostIp)`);
      }
    }
  }
  const writableVolumes = new Map<string, k8s.Volume>();
  const declaredVolumes = new Map((props.volumes ?? []).map((v) => [v.name, v]));
  const harden = (container: ContainerSpec): k8s.Container => {
    const writableMounts = (container.writablePaths ?? []).map((mountPath): k8s.VolumeMount => {
      const name = writableVolumeName(mountPath);
      writableVolumes.set(name, { name, emptyDir: { sizeLimit: WRITABLE_SIZE_LIMIT } });
      return { name, mountPath };
    });
    const scratch = (container.volumeMounts ?? []).flatMap((m) => {
      const volume = declaredVolumes.get(m.name);
      if (volume?.emptyDir === undefined) return [];
      if (volume.emptyDir.sizeLimit === undefined || volume.emptyDir.medium === 'Memory') {
        throw new Error(`hardenedPodSpec: ${container.name}: emptyDir ${m.name} must be on disk with a sizeLimit`);
      }
      return [quantityBytes(volume.emptyDir.sizeLimit)];
    });
    return {
      name: container.name,
      image: container.image,
      imagePullPolicy: 'IfNotPresent',
      command: container.command,
      args: container.args,
      env: container.env,
      envFrom: container.envFrom,
      ports: container.ports,
      resources: withEphemeralStorage(container.resources, writableMounts.length, scratch),
      startupProbe: container.startupProbe,
      readinessProbe: container.readinessProbe,
      livenessProbe: container.livenessProbe,
      securityContext: containerSecurityContext(container.keepNetBindService ?? false),
      volumeMounts: nonEmpty([...writableMounts, ...(container.volumeMounts ?? [])]),
    };
  };
  // A pod that calls the API server gets its ServiceAccount's token in a volume of its own, valid
  // SERVICE_ACCOUNT_TOKEN_SECONDS: the automounted one is valid a year on k3s (the API server extends
  // the default 1 h token of pods that do not ask for a lifetime).
  const tokenVolume = props.serviceAccountName !== undefined ? [serviceAccountTokenVolume()] : [];
  const withToken = (container: ContainerSpec): ContainerSpec =>
    tokenVolume.length === 0
      ? container
      : {
          ...container,
          volumeMounts: [
            ...(container.volumeMounts ?? []),
            { name: SERVICE_ACCOUNT_VOLUME, mountPath: SERVICE_ACCOUNT_PATH, readOnly: true },
          ],
        };
  const initContainers = (props.initContainers ?? []).map(withToken).map(harden);
  const containers = props.containers.map(withToken).map(harden);
  return {
    priorityClassName: props.priorityClassName,
    serviceAccountName: props.serviceAccountName,
    automountServiceAccountToken: false,
    // Services named postgres/redis would otherwise inject REDIS_PORT=tcp://… variables that Plane's fallbacks read.
    enableServiceLinks: false,
    restartPolicy: props.restartPolicy,
    terminationGracePeriodSeconds: props.terminationGracePeriodSeconds,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: props.runAs.user,
      runAsGroup: props.runAs.group,
      fsGroup: props.runAs.group,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    },
    topologySpreadConstraints: props.topologySpreadConstraints,
    nodeSelector: props.nodeSelector,
    initContainers: nonEmpty(initContainers),
    containers,
    volumes: nonEmpty([...writableVolumes.values(), ...(props.volumes ?? []), ...tokenVolume]),
  };
}

/** Lifetime of a ServiceAccount token in a pod: the API server's minimum (the kubelet renews it at 80 %). */
export const SERVICE_ACCOUNT_TOKEN_SECONDS = 600;
const SERVICE_ACCOUNT_VOLUME = 'kube-api-access';
/** Where clients look for the token, the cluster's CA and the namespace. */
const SERVICE_ACCOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/** What the automounted volume holds (token, ca.crt, namespace), with a token of SERVICE_ACCOUNT_TOKEN_SECONDS. */
function serviceAccountTokenVolume(): k8s.Volume {
  return {
    name: SERVICE_ACCOUNT_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: SERVICE_ACCOUNT_TOKEN_SECONDS } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardApi: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

/**
 * The container's ephemeral-storage, unless its component sets it: what the kubelet counts against it
 * on the node's disk. Limit: its logs plus every emptyDir it mounts, at its sizeLimit; the kubelet
 * evicts a pod whose logs and emptyDirs together exceed the sum of its containers' limits, so the limit
 * never evicts before an emptyDir's own cap would. Request: its logs, plus the scratch volumes it mounts
 * (a backup's working copy, filled by design, sized by the site's backup.storage); a writable path is a
 * cap on occasional temp and cache files, not space the container needs, and is not requested.
 */
function withEphemeralStorage(resources: k8s.ResourceRequirements, writablePaths: number, scratch: number[]): k8s.ResourceRequirements {
  const scratchBytes = scratch.reduce((a, b) => a + b, 0);
  const request = CONTAINER_LOGS.request + scratchBytes;
  const limit = CONTAINER_LOGS.limit + scratchBytes + writablePaths * quantityBytes(WRITABLE_SIZE_LIMIT);
  return {
    ...resources,
    requests: { [EPHEMERAL_STORAGE]: mebibytes(request), ...resources.requests },
    limits: { [EPHEMERAL_STORAGE]: mebibytes(limit), ...resources.limits },
  };
}

/** A whole number of MiB (rounded up), as the site file writes sizes. */
function mebibytes(bytes: number): k8s.Quantity {
  return k8s.Quantity.fromString(`${Math.ceil(bytes / 2 ** 20)}Mi`);
}

function quantityBytes(quantity: k8s.Quantity): number {
  return quantityToBytes(String(quantity.value));
}

function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}
