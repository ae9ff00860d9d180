import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { CONFIG_CHECKSUM_ANNOTATION } from '../checksum';
import { serviceHost, ServiceEndpoint } from '../connections';
import { ResourceSpec } from '../config/primitives';
import { hardenedPodSpec, RunAs } from '../hardening';
import { toResourceRequirements } from '../resources';
import { WorkloadLabels } from '../labels';
import { ProbeSet } from '../probes';
import { describeWorkload, Workload } from '../stack/workload';
import { ComponentConfig, ComponentConfigProps } from './component-config';
import { priorityClassName } from './priority-classes';

export interface DataStatefulSetProps extends Omit<ComponentConfigProps, 'name'> {
  /**
   * Name of the StatefulSet, its Service and ConfigMaps, e.g. "plane-postgres"; the governing headless
   * Service is "<name>-headless".
   */
  readonly name: string;
  readonly image: string;
  readonly runAs: RunAs;
  readonly resources: ResourceSpec;
  readonly port: number;
  /** Name of the serving port, e.g. "postgres"; probes may refer to it. */
  readonly portName: string;
  readonly probes: ProbeSet;
  readonly command?: string[];
  readonly args?: string[];
  /** Where the persistent volume is mounted. */
  readonly dataPath: string;
  /** Size of the persistent volume, e.g. "10Gi". */
  readonly storage: string;
  readonly storageClass: string;
  /** Other paths the image writes to (emptyDirs). @default none */
  readonly writablePaths?: string[];
  /** Time to flush data on shutdown. @default 60 */
  readonly terminationGracePeriodSeconds?: number;
}

/** What every data service construct (Postgres, Valkey, Rabbitmq, Garage) is given. */
export interface DataServiceProps {
  readonly namespace: string;
  readonly labels: WorkloadLabels;
  /** Pinned image; each construct says which it supports. */
  readonly image: string;
  /** Size of the persistent volume, e.g. "10Gi". */
  readonly storage: string;
  readonly storageClass: string;
  /** Requests and limits as the site file writes them. */
  readonly resources: ResourceSpec;
}

/** Name of the volume claim template; claims are "data-<name>-0". */
export const DATA_VOLUME_NAME = 'data';

/**
 * A single-replica data service: StatefulSet with a persistent volume per pod, a ClusterIP Service for
 * its clients, and the headless Service that governs the StatefulSet. Its claims are retained when the
 * StatefulSet is deleted or scaled, so re-applying reattaches the data.
 */
export class DataStatefulSet extends Construct {
  readonly endpoint: ServiceEndpoint;
  readonly labels: WorkloadLabels;
  /** What the stack model knows of it (a data service calls no one). */
  readonly workload: Workload;

  constructor(scope: Construct, id: string, props: DataStatefulSetProps) {
    super(scope, id);
    this.labels = props.labels;
    const config = new ComponentConfig(this, 'config', { ...props });
    const selector = { ...props.labels.selector };
    const metadata = { name: props.name, namespace: props.namespace, labels: { ...props.labels.all } };

    const ports = [{ name: props.portName, port: props.port, targetPort: k8s.IntOrString.fromString(props.portName), protocol: 'TCP' }];

    // What clients use: a stable virtual IP, whichever pod serves.
    const service = new k8s.KubeService(this, 'service', {
      metadata,
      spec: { type: 'ClusterIP', selector, ports },
    });
    // A StatefulSet's serviceName must name a headless Service: it gives each pod its stable DNS name
    // (<pod>.<name>-headless). Clients are never given this name. publishNotReadyAddresses keeps its
    // default, false: written out, the API server drops it and every apply reports "configured".
    const headless = new k8s.KubeService(this, 'headless-service', {
      metadata: { ...metadata, name: `${props.name}-headless` },
      spec: { type: 'ClusterIP', clusterIp: 'None', selector, ports },
    });

    new StatefulSetWithStoredClaims(this, 'stateful-set', {
      metadata,
      spec: {
        serviceName: headless.name,
        replicas: 1,
        revisionHistoryLimit: 5,
        selector: { matchLabels: selector },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: {
            labels: { ...props.labels.all },
            annotations: { [CONFIG_CHECKSUM_ANNOTATION]: config.checksum },
          },
          spec: hardenedPodSpec({
            runAs: props.runAs,
            terminationGracePeriodSeconds: props.terminationGracePeriodSeconds ?? 60,
            // Evicted last under node pressure: every other component depends on it.
            priorityClassName: priorityClassName(props.namespace, 'data'),
            containers: [
              {
                name: props.name,
                image: props.image,
                command: props.command,
                args: props.args,
                envFrom: config.envFrom,
                env: config.env,
                ports: [{ name: props.portName, containerPort: props.port, protocol: 'TCP' }],
                resources: toResourceRequirements(props.resources),
                ...props.probes,
                writablePaths: props.writablePaths,
                volumeMounts: [{ name: DATA_VOLUME_NAME, mountPath: props.dataPath }, ...config.volumeMounts],
              },
            ],
            volumes: config.volumes,
          }),
        },
        volumeClaimTemplates: [
          {
            metadata: { name: DATA_VOLUME_NAME, labels: { ...props.labels.selector } },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: props.storageClass,
              volumeMode: 'Filesystem',
              resources: { requests: { storage: k8s.Quantity.fromString(props.storage) } },
            },
          },
        ],
      },
    });

    this.endpoint = {
      host: serviceHost(service.name, props.namespace),
      port: props.port,
      peer: { name: props.name, namespace: props.namespace, podSelector: selector },
    };
    this.workload = describeWorkload({
      kind: 'StatefulSet',
      name: props.name,
      namespace: props.namespace,
      labels: props.labels,
      containers: [{ name: props.name, image: props.image }],
      endpoint: this.endpoint,
      variables: config.variables,
      secretEnv: config.secretEnv,
    });
  }
}

/**
 * The API server stores each claim template with apiVersion, kind and status.phase filled in. `kubectl
 * apply` replaces that list as a whole, so unless ours is written the same way every apply reports the
 * StatefulSet "configured" (breaking "a second apply changes nothing"). The typed L1 class drops
 * those fields, hence the override.
 */
class StatefulSetWithStoredClaims extends k8s.KubeStatefulSet {
  override toJson(): any {
    const json = super.toJson();
    json.spec.volumeClaimTemplates = json.spec.volumeClaimTemplates?.map((claim: object) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      ...claim,
      status: { phase: 'Pending' },
    }));
    return json;
  }
}
