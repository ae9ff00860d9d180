import { Chart, ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { DeletionGuard } from '../lib/constructs/deletion-guard';
import { PodSecurityLevel } from '../lib/hardening';

export interface NamespaceChartProps extends Omit<ChartProps, 'labels'> {
  readonly name: string;
  /** Pod Security Standards level enforced and warned about. @default "restricted" */
  readonly podSecurityLevel?: PodSecurityLevel;
  /**
   * Level audited (annotations in the API server's audit log; nothing printed, nothing refused).
   * @default podSecurityLevel
   */
  readonly auditLevel?: PodSecurityLevel;
  /** The namespace holds data volumes: refuse its deletion (see DeletionGuard). @default false */
  readonly holdsData?: boolean;
  /** Labels of the namespace and its guard. */
  readonly labels: Readonly<Record<string, string>>;
}

/** The stack's namespace, first in dist/ so every other file can be applied into it. */
export class NamespaceChart extends Chart {
  /** Namespace name, for the charts that put objects in it. */
  readonly name: string;

  constructor(scope: Construct, id: string, props: NamespaceChartProps) {
    super(scope, id, props);
    const level = props.podSecurityLevel ?? 'restricted';
    const namespace = new k8s.KubeNamespace(this, 'namespace', {
      metadata: {
        name: props.name,
        labels: {
          ...props.labels,
          'pod-security.kubernetes.io/enforce': level,
          'pod-security.kubernetes.io/warn': level,
          'pod-security.kubernetes.io/audit': props.auditLevel ?? level,
        },
      },
    });
    this.name = namespace.name;
    if (props.holdsData) {
      new DeletionGuard(this, 'deletion-guard', {
        name: `${this.name}-keep-namespace`,
        resource: 'namespaces',
        names: [this.name],
        labels: props.labels,
        message: `namespace ${this.name} holds Plane's data volumes (PostgreSQL, RabbitMQ, Redis, uploads) and is kept; ` +
          `the rest of dist/ is deleted. To drop the data on purpose: kubectl delete validatingadmissionpolicybinding ${this.name}-keep-namespace ` +
          `&& kubectl delete namespace ${this.name}`,
      });
    }
  }
}
