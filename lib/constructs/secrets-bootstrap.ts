import { ApiObject } from 'cdk8s';
import { denyingAdmissionPolicy } from '../admission-policy';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { SecretFormat, SecretKeySource } from '../connections';
import { RunAs } from '../hardening';
import { WorkloadLabels } from '../labels';
import { Call } from '../stack/workload';
import { KubeApiScriptJob } from './kube-api-script-job';
import { VersionedJob } from './versioned-job';

export interface SecretsBootstrapProps {
  readonly namespace: string;
  readonly labels: WorkloadLabels;
  /** A pinned image with python3 (the Plane backend's: no other image to pull). */
  readonly image: string;
  readonly runAs: RunAs;
  readonly resources: k8s.ResourceRequirements;
  /** The version its Job is named after (that of the image). */
  readonly version: string;
  /** Every key the stack reads from Secrets, with how to make it. */
  readonly secretKeys: readonly SecretKeySource[];
  /** Labels put on the Secrets it creates. @default none */
  readonly secretLabels?: Readonly<Record<string, string>>;
  /** @default "plane-secrets": the Job's base name, its ServiceAccount and Role */
  readonly name?: string;
  /** The API server, as its pods reach it. */
  readonly apiServer: Call;
}

/** How the Job makes a missing key: generated in the cluster, or a plain value. */
export type SecretKeyMaking = { readonly generate: SecretFormat } | { readonly value: string };

/** A Secret the Job makes when it is missing. */
export interface MadeSecret {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly keys: Readonly<Record<string, SecretKeyMaking>>;
}

const SCRIPT = 'plane_k3s_secrets.py';
const SPEC_FILE = '/etc/plane-k3s/secrets.json';

/**
 * Makes the stack's Secrets in the cluster on `kubectl apply -f dist`: a Job whose ServiceAccount may
 * only create Secrets and read the ones named here creates each missing Secret with fresh random values
 * and never changes one that exists (lib/plane/secrets/plane_k3s_secrets.py). No value is ever in
 * dist/, git or an annotation. Its Job runs again when the list changes (a new agent).
 */
export class SecretsBootstrap extends Construct {
  /** The Secrets it guarantees, by name. */
  readonly secretNames: readonly string[];
  /** Each Secret it makes: its labels and how each key is made. */
  readonly secrets: readonly MadeSecret[];
  readonly serviceAccountName: string;
  readonly job: VersionedJob;

  constructor(scope: Construct, id: string, props: SecretsBootstrapProps) {
    super(scope, id);
    const name = props.name ?? 'plane-secrets';
    const secrets = new Map<string, Record<string, SecretKeyMaking>>();
    for (const source of props.secretKeys) {
      const keys = secrets.get(source.ref.secretName) ?? {};
      const made: SecretKeyMaking = 'generate' in source ? { generate: source.generate } : { value: source.value };
      const known = keys[source.ref.key];
      if (known && JSON.stringify(known) !== JSON.stringify(made)) {
        throw new Error(`${name}: key ${source.ref.key} of Secret ${source.ref.secretName} is made two ways`);
      }
      keys[source.ref.key] = made;
      secrets.set(source.ref.secretName, keys);
    }
    this.secretNames = [...secrets.keys()].sort();
    const metadata = { name, namespace: props.namespace, labels: { ...props.labels.all } };

    const account = new k8s.KubeServiceAccount(this, 'account', { metadata, automountServiceAccountToken: false });
    this.serviceAccountName = account.name;
    // RBAC cannot limit `create` by name (the name is not known before the object exists): the Role
    // lets it create Secrets of the namespace, and read only those it manages; the admission policy
    // below refuses every create of its account but those Secrets, of type Opaque (not a token Secret
    // for itself, not a Secret the stack does not make).
    const role = new k8s.KubeRole(this, 'role', {
      metadata,
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: [...this.secretNames], verbs: ['get'] },
      ],
    });
    new k8s.KubeRoleBinding(this, 'binding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: account.name, namespace: props.namespace }],
    });

    const username = `system:serviceaccount:${props.namespace}:${account.name}`;
    const policyName = `${props.namespace}-${name}`;
    const creates = denyingAdmissionPolicy(
      policyName,
      {
        failurePolicy: 'Fail',
        matchConstraints: {
          // Written as the API server stores it (scope filled in): an atomic list that differs would make every apply "configured".
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['secrets'], scope: '*' }],
        },
        matchConditions: [{ name: 'the-bootstrap-account', expression: `request.userInfo.username == '${username}'` }],
        validations: [
          {
            expression: `request.namespace == '${props.namespace}' && object.metadata.name in [${this.secretNames.map((n) => `'${n}'`).join(', ')}]`,
            message: `${username} may create only the stack's Secrets in ${props.namespace}`,
          },
          { expression: "!has(object.type) || object.type == 'Opaque'", message: `${username} may create only Opaque Secrets` },
        ],
      },
      props.labels.all,
    );
    new ApiObject(this, 'creates-only-its-secrets', creates.policy);
    new ApiObject(this, 'creates-only-its-secrets-binding', creates.binding);

    this.secrets = this.secretNames.map((secretName) => ({
      name: secretName,
      namespace: props.namespace,
      labels: { ...props.secretLabels },
      keys: Object.fromEntries(Object.entries(secrets.get(secretName) ?? {}).sort(([a], [b]) => a.localeCompare(b))),
    }));
    const spec = {
      namespace: props.namespace,
      secrets: this.secrets.map(({ name: secretName, labels, keys }) => ({ name: secretName, labels, keys })),
    };
    this.job = new KubeApiScriptJob(this, 'job', {
      namespace: props.namespace,
      name: name,
      labels: props.labels,
      image: props.image,
      runAs: props.runAs,
      resources: props.resources,
      version: props.version,
      serviceAccountName: account.name,
      folder: 'lib/plane/secrets',
      script: SCRIPT,
      spec: spec,
      specFile: SPEC_FILE,
      apiServer: props.apiServer,
    }).job;
  }
}
