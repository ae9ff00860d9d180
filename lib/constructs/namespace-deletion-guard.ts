import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export interface NamespaceDeletionGuardProps {
  /** The namespace to keep. */
  readonly namespace: string;
  /** Why it must be kept and how to delete it on purpose; shown to whoever tries. */
  readonly message: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Refuses the deletion of a namespace (a ValidatingAdmissionPolicy and its binding, Kubernetes ≥ 1.30).
 * Deleting a namespace deletes its PersistentVolumeClaims, and k3s' local-path volumes go with them: with
 * the guard, `kubectl delete -f dist` removes the workloads but keeps the namespace and the data, and a
 * re-apply finds the claims again. Put it after the Namespace in dist/ so it is still there when
 * `kubectl delete` reaches the Namespace.
 */
export class NamespaceDeletionGuard extends Construct {
  constructor(scope: Construct, id: string, props: NamespaceDeletionGuardProps) {
    super(scope, id);
    const name = `${props.namespace}-keep-namespace`;
    const metadata = { name, labels: props.labels ? { ...props.labels } : undefined };
    new ApiObject(this, 'policy', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['DELETE'],
            resources: ['namespaces'],
            resourceNames: [props.namespace],
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
      spec: { policyName: name, validationActions: ['Deny'] },
    });
  }
}
