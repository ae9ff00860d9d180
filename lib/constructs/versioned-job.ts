import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { configChecksum } from '../checksum';
import { ContainerSpec, hardenedPodSpec, RunAs } from '../hardening';
import { PodPeer } from '../network/peers';
import { describeWorkload, Workload, WorkloadFlows } from '../stack/workload';
import { ComponentConfig, ComponentConfigProps } from './component-config';
import { priorityClassName } from './priority-classes';

export interface VersionedJobProps extends Omit<ComponentConfigProps, 'name'>, WorkloadFlows {
  /** Base name, e.g. "plane-migrate"; the Job is "<base>-<version>-<digest>". */
  readonly baseName: string;
  /** Version the Job belongs to, e.g. "v1.2.2". */
  readonly version: string;
  readonly image: string;
  readonly runAs: RunAs;
  readonly resources: k8s.ResourceRequirements;
  readonly command?: string[];
  readonly args?: string[];
  readonly writablePaths?: string[];
  /** @default 6 */
  readonly backoffLimit?: number;
  /**
   * Run again when the configuration (ConfigMap data) changes, not only the template: for Jobs that
   * converge the cluster to the site, such as provisioning. @default false (the migrator runs once per
   * version)
   */
  readonly rerunOnConfigChange?: boolean;
  /** See HardenedPodProps.serviceAccountName. @default none */
  readonly serviceAccountName?: string;
  /** See Workload.handsSecretsOn. @default false */
  readonly handsSecretsOn?: boolean;
}

/**
 * A run-once Job named after the version it serves and a digest of its pod template. A Job's template
 * is immutable: a new version (or any template change) gets a new Job, which runs again, instead of an
 * apply that fails. It is kept after completion (no TTL) so that a re-apply finds it unchanged.
 */
export class VersionedJob extends Construct {
  readonly name: string;
  /** The Job's pods, for NetworkPolicies. */
  readonly peer: PodPeer;
  /** What the stack model knows of it. */
  readonly workload: Workload;

  constructor(scope: Construct, id: string, props: VersionedJobProps) {
    super(scope, id);
    this.peer = { name: props.baseName, namespace: props.namespace, podSelector: { ...props.labels.selector } };
    // ConfigMap names must not follow the version, or every upgrade would orphan one.
    const config = new ComponentConfig(this, 'config', { ...props, name: props.baseName });
    const container: ContainerSpec = {
      name: props.baseName,
      image: props.image,
      command: props.command,
      args: props.args,
      envFrom: config.envFrom,
      env: config.env,
      resources: props.resources,
      writablePaths: props.writablePaths,
      volumeMounts: config.volumeMounts,
    };
    const template: k8s.PodTemplateSpec = {
      metadata: { labels: { ...props.labels.all } },
      spec: hardenedPodSpec({
        runAs: props.runAs,
        containers: [container],
        volumes: config.volumes,
        restartPolicy: 'OnFailure',
        // Evicted first under node pressure: a Job runs again (backoffLimit), and serves no one.
        priorityClassName: priorityClassName(props.namespace, 'jobs'),
        serviceAccountName: props.serviceAccountName,
      }),
    };
    const digest = configChecksum({
      template: JSON.stringify(template),
      ...(props.rerunOnConfigChange ? { config: config.checksum } : {}),
    }).slice(0, 8);
    const versionSlug = props.version
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    this.name = `${props.baseName}-${versionSlug}-${digest}`;
    if (this.name.length > 63) throw new Error(`job name ${this.name} is longer than 63 characters`);

    this.workload = describeWorkload({
      kind: 'Job',
      name: this.name,
      policyName: props.baseName,
      namespace: props.namespace,
      labels: props.labels,
      containers: [container],
      variables: config.variables,
      secretEnv: config.secretEnv,
      calls: props.calls,
      admits: props.admits,
      handsSecretsOn: props.handsSecretsOn,
    });

    new k8s.KubeJob(this, 'job', {
      metadata: { name: this.name, namespace: props.namespace, labels: { ...props.labels.all } },
      spec: { backoffLimit: props.backoffLimit ?? 6, template },
    });
  }
}
