/**
 * Kubernetes recommended labels. Selectors use only the labels that never change for a component
 * (name, instance, part-of): a Deployment's selector is immutable, so it must not depend on a
 * version or on a construct path.
 */

/** The application every object belongs to. */
export const PART_OF = 'plane';

/** The seed's network zones, carried as app.kubernetes.io/component (NetworkPolicies select on them). */
export type Zone = 'edge' | 'frontend' | 'backend' | 'egress' | 'data';

/** What app.kubernetes.io/component says: a workload's zone, or the policies that guard them. */
export type ComponentRole = Zone | 'network-policy' | 'namespace';

export interface WorkloadLabelProps {
  /** Site instance, e.g. "javisi". */
  readonly instance: string;
  /** Component name, e.g. "api"; unique within the instance. */
  readonly name: string;
  readonly zone: ComponentRole;
  /** Version of the software the component runs (its image tag). */
  readonly version: string;
}

export class WorkloadLabels {
  /** Stable labels: used in selectors. */
  readonly selector: Readonly<Record<string, string>>;
  /** Every label: put on objects and pod templates. */
  readonly all: Readonly<Record<string, string>>;

  constructor(props: WorkloadLabelProps) {
    this.selector = {
      'app.kubernetes.io/name': props.name,
      'app.kubernetes.io/instance': props.instance,
      'app.kubernetes.io/part-of': PART_OF,
    };
    this.all = {
      ...this.selector,
      'app.kubernetes.io/component': props.zone,
      'app.kubernetes.io/version': props.version,
      'app.kubernetes.io/managed-by': 'cdk8s',
    };
  }
}

/**
 * On the objects of dist/ that hold data or keep it (the stack's namespace, its backup claim, the
 * retaining StorageClass): `kubectl delete -f dist -l '!plane-k3s/holds-data'` removes everything else.
 */
export const HOLDS_DATA_LABEL = 'plane-k3s/holds-data';
