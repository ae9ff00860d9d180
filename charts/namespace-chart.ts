import { Chart, ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { PodSecurityLevel } from '../lib/hardening';

export interface NamespaceChartProps extends ChartProps {
  readonly name: string;
  /** Pod Security Standards level enforced and warned about. @default "restricted" */
  readonly podSecurityLevel?: PodSecurityLevel;
  /**
   * Level audited (annotations in the API server's audit log; nothing printed, nothing refused).
   * @default podSecurityLevel
   */
  readonly auditLevel?: PodSecurityLevel;
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
          'pod-security.kubernetes.io/enforce': level,
          'pod-security.kubernetes.io/warn': level,
          'pod-security.kubernetes.io/audit': props.auditLevel ?? level,
        },
      },
    });
    this.name = namespace.name;
  }
}
