import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { CONFIG_CHECKSUM_ANNOTATION } from '../checksum';
import { SecretKeyRef } from '../connections';
import { ContainerSpec, hardenedPodSpec, RunAs } from '../hardening';
import { WorkloadLabels } from '../labels';
import { mountedKubeClient, mountedScripts, SCRIPTS_PATH } from '../scripts';
import { Call, describeWorkload, Workload } from '../stack/workload';
import { managePyShell } from '../plane/provisioning';
import { ComponentConfig } from './component-config';
import { cronJobTiming } from './cron-job-timing';
import { priorityClassName } from './priority-classes';

/** One agent whose token the CronJob replaces: its id (Plane token label) and where its token lives. */
export interface RotatedAgent {
  readonly id: string;
  readonly token: SecretKeyRef;
}

export interface TokenRotationProps {
  readonly namespace: string;
  /** Base name of the CronJob, its ServiceAccount, Role and ConfigMaps, e.g. "plane-token-rotation". */
  readonly name: string;
  readonly labels: WorkloadLabels;
  /** Plane's backend image: the rotation writes tokens with Plane's models (manage.py shell). */
  readonly image: string;
  readonly runAs: RunAs;
  readonly resources: k8s.ResourceRequirements;
  /** Five-field cron schedule, UTC. */
  readonly schedule: string;
  /** The backend's environment (Django settings: the database, the cache), as the provisioning Job gets it. */
  readonly env: Readonly<Record<string, string>>;
  readonly secretEnv: Readonly<Record<string, SecretKeyRef>>;
  /** Variables composed from the others (DATABASE_URL holding $(POSTGRES_PASSWORD)). */
  readonly derivedEnv: Readonly<Record<string, string>>;
  /** The backend services its Django settings reach, and the API server (the agents' Secrets). */
  readonly calls: readonly Call[];
  /** The agents: their Secrets are all the ServiceAccount may read and patch. */
  readonly agents: readonly RotatedAgent[];
  /** Token lifetime, rotation window and overlap: the spec the script reads. */
  readonly policy: { readonly lifetimeDays: number; readonly overlapHours: number; readonly rotateDaysBeforeExpiry: number };
  /** The Python modules' folder (the rotation imports the provisioning's token rules). */
  readonly folder: string;
  readonly modules: readonly string[];
  /** The module whose main() the CronJob runs, through Plane's manage.py shell. */
  readonly module: string;
  /** Writable paths of the backend image (its log folder, /tmp). */
  readonly writablePaths: readonly string[];
}

const SPEC_FILE = '/etc/plane-k3s/token-rotation.json';

/**
 * The CronJob that replaces each agent's token before it expires (plane_k3s_rotate_tokens.py): new token
 * into Plane, then into the agent's Secret, the old one kept working for the overlap. Its ServiceAccount
 * may get and patch the agents' Secrets by name, nothing else (not the admin's, not another's).
 */
export class TokenRotation extends Construct {
  readonly name: string;
  readonly serviceAccountName: string;
  /** The Secrets its ServiceAccount may read and patch. */
  readonly secretNames: readonly string[];
  readonly workload: Workload;

  constructor(scope: Construct, id: string, props: TokenRotationProps) {
    super(scope, id);
    if (props.agents.length === 0) throw new Error(`${props.name}: no agents, nothing to rotate`);
    this.name = props.name;
    this.secretNames = [...new Set(props.agents.map((a) => a.token.secretName))].sort();
    const metadata = { name: props.name, namespace: props.namespace, labels: { ...props.labels.all } };
    const account = new k8s.KubeServiceAccount(this, 'account', { metadata, automountServiceAccountToken: false });
    this.serviceAccountName = account.name;
    const role = new k8s.KubeRole(this, 'role', {
      metadata,
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [...this.secretNames], verbs: ['get', 'patch'] }],
    });
    new k8s.KubeRoleBinding(this, 'binding', {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: account.name, namespace: props.namespace }],
    });

    const spec = {
      namespace: props.namespace,
      tokens: props.policy,
      agents: props.agents.map((a) => ({ id: a.id, secret: a.token.secretName, key: a.token.key })),
    };
    const config = new ComponentConfig(this, 'config', {
      namespace: props.namespace,
      name: props.name,
      labels: props.labels,
      env: { ...props.env, PYTHONPATH: SCRIPTS_PATH, PLANE_K3S_SPEC_FILE: SPEC_FILE },
      secretEnv: props.secretEnv,
      derivedEnv: props.derivedEnv,
      files: {
        ...mountedScripts(props.folder, props.modules),
        ...mountedKubeClient(),
        [SPEC_FILE]: `${JSON.stringify(spec, null, 2)}\n`,
      },
    });
    const container: ContainerSpec = {
      name: props.name,
      image: props.image,
      command: managePyShell(props.module),
      envFrom: config.envFrom,
      env: config.env,
      resources: props.resources,
      writablePaths: [...props.writablePaths],
      volumeMounts: config.volumeMounts,
    };
    this.workload = describeWorkload({
      kind: 'CronJob',
      name: props.name,
      namespace: props.namespace,
      labels: props.labels,
      containers: [container],
      schedule: props.schedule,
      variables: config.variables,
      secretEnv: config.secretEnv,
      calls: props.calls,
    });
    new k8s.KubeCronJob(this, 'cron-job', {
      metadata,
      spec: {
        // Never two at once: both would replace a token that is due.
        ...cronJobTiming(props.schedule),
        jobTemplate: {
          metadata: { labels: { ...props.labels.all } },
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 1800,
            template: {
              metadata: { labels: { ...props.labels.all }, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: config.checksum } },
              spec: hardenedPodSpec({
                runAs: props.runAs,
                containers: [container],
                volumes: config.volumes,
                restartPolicy: 'OnFailure',
                priorityClassName: priorityClassName(props.namespace, 'jobs'),
                serviceAccountName: account.name,
              }),
            },
          },
        },
      },
    });
  }
}
