import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { CONFIG_CHECKSUM_ANNOTATION } from '../checksum';
import { serviceHost, ServiceEndpoint } from '../connections';
import { ContainerSpec, hardenedPodSpec, RunAs } from '../hardening';
import { WorkloadLabels } from '../labels';
import { PodPeer } from '../network/peers';
import { priorityClassName, priorityTier } from './priority-classes';
import { ProbeSet } from '../probes';
import { describeWorkload, Workload, WorkloadFlows, ZONE_LABEL } from '../stack/workload';
import { ComponentConfig, ComponentConfigProps } from './component-config';

export interface AppDeploymentProps extends Omit<ComponentConfigProps, 'name'>, WorkloadFlows {
  /** Name of the Deployment, its Service and ConfigMaps, e.g. "plane-api". */
  readonly name: string;
  readonly image: string;
  readonly runAs: RunAs;
  readonly resources: k8s.ResourceRequirements;
  /** @default 1 */
  readonly replicas?: number;
  /**
   * "Recreate" guarantees that two pods never run at once (a scheduler that must stay single).
   * @default "RollingUpdate" with no unavailable pod
   */
  readonly strategy?: 'RollingUpdate' | 'Recreate';
  readonly command?: string[];
  readonly args?: string[];
  /** Serving port, exposed by a ClusterIP Service of the same name. @default no port, no Service */
  readonly port?: number;
  /** @default no probes (only for processes that serve nothing) */
  readonly probes?: ProbeSet;
  /** Paths the image writes to (emptyDirs). @default none */
  readonly writablePaths?: string[];
  /**
   * Container ports besides `port`; they are not added to the Service (a probe-only port, ports the
   * component exposes through its own Service or a hostPort). @default none
   */
  readonly containerPorts?: k8s.ContainerPort[];
  /** Volumes besides the writable emptyDirs and config files: Secrets, claims. @default none */
  readonly volumes?: MountedVolume[];
  /** See `ContainerSpec.keepNetBindService`. @default false */
  readonly keepNetBindService?: boolean;
  /** @default any node */
  readonly nodeSelector?: Record<string, string>;
  /**
   * The Service of its owner that answers for it, when it serves no `port` of its own (Caddy's, on the
   * public ports). @default `port`'s Service, or none
   */
  readonly ownerService?: { readonly name: string; readonly port: number };
  /**
   * The pods' PriorityClass. @default the class of its tier (priorityTier: by zone, and whether it
   * serves a port) in the stack named after `namespace`; a component outside the stack's namespace
   * (Caddy) names it.
   */
  readonly priorityClassName?: string;
}

/** A volume and where the container sees it. */
export interface MountedVolume {
  readonly volume: k8s.Volume;
  readonly mountPath: string;
  /** @default true */
  readonly readOnly?: boolean;
}

/** Port name used by every serving container and Service. */
export const HTTP_PORT_NAME = 'http';
/** Keep enough history for `kubectl rollout undo`. */
const REVISION_HISTORY_LIMIT = 5;

/**
 * A hardened, stateless component: Deployment, its configuration, a Service when it serves, and,
 * when it runs more than one replica, a PodDisruptionBudget and topology spread across nodes.
 */
export class AppDeployment extends Construct {
  readonly name: string;
  readonly labels: WorkloadLabels;
  /** The component's pods, for NetworkPolicies. */
  readonly peer: PodPeer;
  /** Set when the component serves a port. */
  readonly endpoint?: ServiceEndpoint;
  readonly deployment: k8s.KubeDeployment;
  /** What the stack model knows of it: image, Secrets read, calls. */
  readonly workload: Workload;

  /** The Service endpoint; only for components that serve a port. */
  get serviceEndpoint(): ServiceEndpoint {
    if (!this.endpoint) throw new Error(`${this.name} serves no port`);
    return this.endpoint;
  }

  constructor(scope: Construct, id: string, props: AppDeploymentProps) {
    super(scope, id);
    const replicas = props.replicas ?? 1;
    if (props.strategy === 'Recreate' && replicas !== 1) {
      throw new Error(`${props.name}: a Recreate deployment exists to keep a single pod; replicas must be 1`);
    }
    this.name = props.name;
    this.labels = props.labels;
    this.peer = { name: props.name, namespace: props.namespace, podSelector: { ...props.labels.selector } };
    const config = new ComponentConfig(this, 'config', { ...props });
    const selector = { ...props.labels.selector };

    const container: ContainerSpec = {
      name: props.name,
      image: props.image,
      command: props.command,
      args: props.args,
      envFrom: config.envFrom,
      env: config.env,
      ports: nonEmpty([
        ...(props.port ? [{ name: HTTP_PORT_NAME, containerPort: props.port, protocol: 'TCP' }] : []),
        ...(props.containerPorts ?? []),
      ]),
      resources: props.resources,
      ...props.probes,
      writablePaths: props.writablePaths,
      volumeMounts: [
        ...config.volumeMounts,
        // readOnly only when true: the API server drops a false one, and apply would then see a change each time.
        ...(props.volumes ?? []).map((v) => ({
          name: v.volume.name,
          mountPath: v.mountPath,
          ...((v.readOnly ?? true) ? { readOnly: true } : {}),
        })),
      ],
      keepNetBindService: props.keepNetBindService,
    };

    this.deployment = new k8s.KubeDeployment(this, 'deployment', {
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels.all } },
      spec: {
        replicas,
        revisionHistoryLimit: REVISION_HISTORY_LIMIT,
        selector: { matchLabels: selector },
        strategy:
          props.strategy === 'Recreate'
            ? { type: 'Recreate' }
            : {
                type: 'RollingUpdate',
                rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) },
              },
        template: {
          metadata: {
            labels: { ...props.labels.all },
            annotations: { [CONFIG_CHECKSUM_ANNOTATION]: config.checksum },
          },
          spec: hardenedPodSpec({
            runAs: props.runAs,
            containers: [container],
            volumes: [...config.volumes, ...(props.volumes ?? []).map((v) => v.volume)],
            topologySpreadConstraints: replicas > 1 ? spreadAcrossNodes(selector) : undefined,
            nodeSelector: props.nodeSelector,
            priorityClassName:
              props.priorityClassName ??
              priorityClassName(
                props.namespace,
                priorityTier({ kind: 'Deployment', zone: props.labels.all[ZONE_LABEL], serves: props.port !== undefined }),
              ),
          }),
        },
      },
    });

    if (props.port) {
      const service = new k8s.KubeService(this, 'service', {
        metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels.all } },
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [{ name: HTTP_PORT_NAME, port: props.port, targetPort: k8s.IntOrString.fromString(HTTP_PORT_NAME), protocol: 'TCP' }],
        },
      });
      this.endpoint = { host: serviceHost(service.name, props.namespace), port: props.port, peer: this.peer };
    }

    this.workload = describeWorkload({
      kind: 'Deployment',
      name: props.name,
      namespace: props.namespace,
      labels: props.labels,
      replicas,
      containers: [container],
      endpoint:
        this.endpoint ??
        (props.ownerService
          ? { host: serviceHost(props.ownerService.name, props.namespace), port: props.ownerService.port, peer: this.peer }
          : undefined),
      variables: config.variables,
      secretEnv: config.secretEnv,
      otherSecretsRead: (props.volumes ?? []).flatMap((v) =>
        v.volume.secret?.secretName ? [{ secretName: v.volume.secret.secretName }] : [],
      ),
      calls: props.calls,
      admits: props.admits,
    });

    if (replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, 'disruption-budget', {
        metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels.all } },
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector } },
      });
    }
  }
}

/** The endpoint of a component that serves a port; throws for one that serves nothing. */
function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}

/** Spread replicas over nodes when there are several; on a single node they still schedule. */
export function spreadAcrossNodes(selector: Record<string, string>): k8s.TopologySpreadConstraint[] {
  return [
    {
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: selector },
    },
  ];
}
