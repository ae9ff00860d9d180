import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { RunAs } from '../hardening';
import { WorkloadLabels } from '../labels';
import { ADMISSION_GROUP, denyingAdmissionPolicy, DenyingAdmissionPolicy } from '../admission-policy';
import { NAMESPACE_NAME_LABEL } from '../network/peers';
import { Call } from '../stack/workload';
import { KubeApiScriptJob } from './kube-api-script-job';
import { VersionedJob } from './versioned-job';

export interface KeepDataGuardProps {
  /** The namespace kept, with every PersistentVolumeClaim in it; the Job runs there too. */
  readonly namespace: string;
  /**
   * Name of the policy, its binding, the ClusterRole and ClusterRoleBinding (cluster-wide: include the
   * namespace), and base name of the Job, its ServiceAccount and ConfigMap, e.g. "plane-keep-data".
   */
  readonly name: string;
  /** Labels of the Job and its RBAC objects (and its pods, which the NetworkPolicies select on). */
  readonly labels: WorkloadLabels;
  /** Labels put on the policy and its binding. @default labels.all */
  readonly policyLabels?: Readonly<Record<string, string>>;
  /** A pinned image with python3 (the Plane backend's, as the secrets bootstrap: no other image to pull). */
  readonly image: string;
  readonly runAs: RunAs;
  readonly resources: k8s.ResourceRequirements;
  /** The version its Job is named after (that of the image). */
  readonly version: string;
  /** Shown to whoever tries a refused deletion: why, and where the deliberate path is written. */
  readonly message: string;
  /** The API server, as its pods reach it. */
  readonly apiServer: Call;
}

/** The policy and binding, as the Job applies them (and as tests read them). */
export type KeepDataPolicy = DenyingAdmissionPolicy;

const SCRIPT = 'plane_k3s_keep_data.py';
const SPEC_FILE = '/etc/plane-k3s/keep-data.json';

/**
 * The guard: refuses the DELETE of namespace `namespace` and of every PersistentVolumeClaim in it,
 * whatever the name and however asked (one by one, `-l`, `--all`, a DeleteCollection: no
 * `resourceNames`, which match nothing in a DeleteCollection; the namespace selector matches a
 * claim's namespace, and for a Namespace object its own labels).
 */
export function keepDataPolicy(
  props: Pick<KeepDataGuardProps, 'namespace' | 'name' | 'message'> & { readonly labels?: Readonly<Record<string, string>> },
): KeepDataPolicy {
  return denyingAdmissionPolicy(
    props.name,
    {
      failurePolicy: 'Fail',
      matchConstraints: {
        namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: props.namespace } },
        resourceRules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['DELETE'],
            resources: ['namespaces', 'persistentvolumeclaims'],
            scope: '*',
          },
        ],
      },
      validations: [{ expression: 'false', message: props.message }],
    },
    props.labels,
  );
}

/**
 * Keeps the data through any `kubectl delete -f dist`: a Job applies the `keepDataPolicy` guard to the
 * cluster (server-side apply, lib/keep-data/plane_k3s_keep_data.py). The guard itself is not in
 * dist/: admission configuration objects are exempt from admission policies, so a guard in dist/ is
 * deleted by the very command it guards against, and the next run deletes the data. Deleting the data
 * on purpose means deleting the binding first (docs/runbook.md). The Job runs again when the guard
 * changes.
 */
export class KeepDataGuard extends Construct {
  /** What the Job applies. */
  readonly guard: KeepDataPolicy;
  readonly serviceAccountName: string;
  readonly job: VersionedJob;

  constructor(scope: Construct, id: string, props: KeepDataGuardProps) {
    super(scope, id);
    this.guard = keepDataPolicy({ ...props, labels: props.policyLabels ?? props.labels.all });
    const metadata = { name: props.name, labels: { ...props.labels.all } };

    const account = new k8s.KubeServiceAccount(this, 'account', {
      metadata: { ...metadata, namespace: props.namespace },
      automountServiceAccountToken: false,
    });
    this.serviceAccountName = account.name;
    // Server-side apply is a PATCH; when the object does not exist yet the API server also asks for
    // `create`, with the object's name. RBAC cannot limit a POST create by name (the name is not in
    // the URL), but this create-by-apply carries it: both verbs are limited to the two objects.
    const role = new k8s.KubeClusterRole(this, 'role', {
      metadata,
      rules: [
        {
          apiGroups: [ADMISSION_GROUP],
          resources: ['validatingadmissionpolicies', 'validatingadmissionpolicybindings'],
          resourceNames: [props.name],
          verbs: ['create', 'patch'],
        },
      ],
    });
    new k8s.KubeClusterRoleBinding(this, 'binding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: account.name, namespace: props.namespace }],
    });

    this.job = new KubeApiScriptJob(this, 'job', {
      namespace: props.namespace,
      name: props.name,
      labels: props.labels,
      image: props.image,
      runAs: props.runAs,
      resources: props.resources,
      version: props.version,
      serviceAccountName: account.name,
      folder: 'lib/keep-data',
      script: SCRIPT,
      spec: { objects: [this.guard.policy, this.guard.binding] },
      specFile: SPEC_FILE,
      apiServer: props.apiServer,
    }).job;
  }
}
