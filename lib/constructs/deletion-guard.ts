import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export interface DeletionGuardProps {
  /** Name of the policy and its binding, e.g. "plane-keep-namespace". */
  readonly name: string;
  /** What is kept: namespaces (cluster-scoped) or the persistent volume claims of `namespace`. */
  readonly resource: 'namespaces' | 'persistentvolumeclaims';
  /** The objects kept, by name. */
  readonly names: readonly string[];
  /** The namespace of the kept objects (persistentvolumeclaims only). */
  readonly namespace?: string;
  /** Why they must be kept and how to delete them on purpose; shown to whoever tries. */
  readonly message: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Superseded by KeepDataGuard (lib/constructs/keep-data-guard.ts): a guard in dist/ is deleted by the
 * `kubectl delete -f dist` it guards against (admission configuration objects are exempt from
 * admission policies), and `resourceNames` match nothing in a DeleteCollection. Kept only while
 * lib/data/backups.ts still uses it; delete this file with that use.
 *
 * Refuses the deletion of named objects that hold data (a ValidatingAdmissionPolicy and its binding,
 * Kubernetes ≥ 1.30). Deleting a namespace deletes its PersistentVolumeClaims, and deleting a claim
 * deletes k3s' local-path volume with it: with the guard, `kubectl delete -f dist` removes the workloads
 * but keeps the data, and a re-apply finds the claims again. Put it after what it keeps in dist/ so it
 * is still there when `kubectl delete` reaches those objects.
 */
export class DeletionGuard extends Construct {
  constructor(scope: Construct, id: string, props: DeletionGuardProps) {
    super(scope, id);
    if (props.resource === 'persistentvolumeclaims' && !props.namespace) throw new Error(`${props.name}: claims are kept in a namespace: give it`);
    const metadata = { name: props.name, labels: props.labels ? { ...props.labels } : undefined };
    new ApiObject(this, 'policy', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          ...(props.namespace
            ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': props.namespace } } }
            : {}),
          resourceRules: [{
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['DELETE'],
            resources: [props.resource],
            resourceNames: [...props.names],
            // Written out although it is the default: the server adds it to the list, and a list
            // that differs from the applied one makes every `kubectl apply` report "configured".
            scope: '*',
          }],
        },
        validations: [{ expression: 'false', message: props.message }],
      },
    });
    new ApiObject(this, 'binding', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: props.name, validationActions: ['Deny'] },
    });
  }
}
