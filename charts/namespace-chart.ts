import { Chart, ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { KeepDataGuard, KeepDataGuardProps } from '../lib/constructs/keep-data-guard';
import { PriorityClasses } from '../lib/constructs/priority-classes';
import { PodSecurityLevel } from '../lib/hardening';
import { HOLDS_DATA_LABEL } from '../lib/labels';

/** How the namespace's data is kept. */
export interface HoldsData {
  /** The guard and the Job that applies it (the namespace is the chart's). */
  readonly guard: Omit<KeepDataGuardProps, 'namespace'>;
  /**
   * A StorageClass of the stack's own to make here: k3s' `rancher.io/local-path` provisioner with
   * `reclaimPolicy: Retain`, so a claim that is deleted leaves its volume (and data) on the node.
   * @default none (the site uses a class of the cluster's)
   */
  readonly retainStorageClass?: string;
}

export interface NamespaceChartProps extends Omit<ChartProps, 'labels'> {
  readonly name: string;
  /** Pod Security Standards level enforced and warned about. @default "restricted" */
  readonly podSecurityLevel?: PodSecurityLevel;
  /**
   * Level audited (annotations in the API server's audit log; nothing printed, nothing refused).
   * @default podSecurityLevel
   */
  readonly auditLevel?: PodSecurityLevel;
  /**
   * The namespace holds data volumes: it is labelled HOLDS_DATA_LABEL, and a Job applies a guard that
   * refuses its deletion and that of its claims (KeepDataGuard). @default none
   */
  readonly holdsData?: HoldsData;
  /** Labels of the namespace (and of the StorageClass). */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Make the stack's PriorityClasses here (named after this namespace), before any pod that names one:
   * the API server refuses a pod whose class does not exist. @default none
   */
  readonly priorityClasses?: { readonly labels: Readonly<Record<string, string>> };
}

/**
 * The stack's namespace, first in dist/ so every other file can be applied into it; for the namespace
 * that holds the data, also the guard's Job and the retaining StorageClass, and the stack's PriorityClasses.
 */
export class NamespaceChart extends Chart {
  /** Namespace name, for the charts that put objects in it. */
  readonly name: string;
  /** The Job that applies the deletion guard, when the namespace holds data. */
  readonly guard?: KeepDataGuard;
  /** The stack's PriorityClasses, when made here. */
  readonly priorityClasses?: PriorityClasses;

  constructor(scope: Construct, id: string, props: NamespaceChartProps) {
    super(scope, id, props);
    const level = props.podSecurityLevel ?? 'restricted';
    const keep: Record<string, string> = props.holdsData ? { [HOLDS_DATA_LABEL]: 'true' } : {};
    const namespace = new k8s.KubeNamespace(this, 'namespace', {
      metadata: {
        name: props.name,
        labels: {
          ...props.labels,
          ...keep,
          'pod-security.kubernetes.io/enforce': level,
          'pod-security.kubernetes.io/warn': level,
          'pod-security.kubernetes.io/audit': props.auditLevel ?? level,
        },
      },
    });
    this.name = namespace.name;
    if (props.priorityClasses) {
      this.priorityClasses = new PriorityClasses(this, 'priority-classes', {
        stackNamespace: this.name,
        labels: props.priorityClasses.labels,
      });
    }
    if (!props.holdsData) return;
    if (props.holdsData.retainStorageClass) {
      new k8s.KubeStorageClass(this, 'storage-class', {
        metadata: { name: props.holdsData.retainStorageClass, labels: { ...props.labels, ...keep } },
        provisioner: 'rancher.io/local-path',
        reclaimPolicy: 'Retain',
        volumeBindingMode: 'WaitForFirstConsumer',
      });
    }
    this.guard = new KeepDataGuard(this, 'keep-data', { ...props.holdsData.guard, namespace: this.name });
  }
}
