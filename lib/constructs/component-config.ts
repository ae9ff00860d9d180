import { ApiObjectMetadata } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import * as path from 'node:path';
import { configChecksum } from '../checksum';
import { SecretKeyRef } from '../connections';
import { WorkloadLabels } from '../labels';

export interface ComponentConfigProps {
  readonly namespace: string;
  /** Base name of the component's objects, e.g. "plane-api"; ConfigMaps are "<name>-env" and "<name>-files". */
  readonly name: string;
  readonly labels: WorkloadLabels;
  /** Non-secret environment, stored in the "<name>-env" ConfigMap. @default none */
  readonly env?: Readonly<Record<string, string>>;
  /** Environment variables read from operator-created Secrets. @default none */
  readonly secretEnv?: Readonly<Record<string, SecretKeyRef>>;
  /**
   * Variables composed in the pod spec from the others with Kubernetes' $(VAR) syntax, e.g. a
   * DATABASE_URL holding $(POSTGRES_PASSWORD): the manifest names the secret, the pod gets the value.
   * @default none
   */
  readonly derivedEnv?: Readonly<Record<string, string>>;
  /** Config files by absolute path in the container, stored in the "<name>-files" ConfigMap. @default none */
  readonly files?: Readonly<Record<string, string>>;
}

/**
 * The configuration one component consumes: its own ConfigMaps, its Secret references, and the
 * checksum of exactly that data for its pod template.
 */
export class ComponentConfig extends Construct {
  readonly envFrom?: k8s.EnvFromSource[];
  readonly env?: k8s.EnvVar[];
  readonly volumes: k8s.Volume[];
  readonly volumeMounts: k8s.VolumeMount[];
  /** sha256 of the ConfigMap data; changes exactly when this component's configuration does. */
  readonly checksum: string;
  /** Every variable it declares: plain, derived and from Secrets. */
  readonly variables: readonly string[];
  /** The variables read from Secrets. */
  readonly secretEnv: Readonly<Record<string, SecretKeyRef>>;

  constructor(scope: Construct, id: string, props: ComponentConfigProps) {
    super(scope, id);
    const metadata = (suffix: string): ApiObjectMetadata => ({
      name: `${props.name}-${suffix}`,
      namespace: props.namespace,
      labels: { ...props.labels.all },
    });

    const env = props.env ?? {};
    this.secretEnv = { ...props.secretEnv };
    this.variables = [...Object.keys(env), ...Object.keys(props.secretEnv ?? {}), ...Object.keys(props.derivedEnv ?? {})].sort();
    if (Object.keys(env).length > 0) {
      const configMap = new k8s.KubeConfigMap(this, 'env', { metadata: metadata('env'), data: sortedRecord(env) });
      this.envFrom = [{ configMapRef: { name: configMap.name } }];
    }

    const overlap = Object.keys(props.secretEnv ?? {}).filter((k) => k in env || k in (props.derivedEnv ?? {}));
    if (overlap.length > 0) throw new Error(`${props.name}: ${overlap.join(', ')} set both as secret and as plain value`);
    const envVars: k8s.EnvVar[] = [
      // Secret references first: $(VAR) only expands variables defined earlier in the list.
      ...(secretEnvVars(props.secretEnv ?? {}) ?? []),
      ...Object.entries(props.derivedEnv ?? {}).map(([name, value]): k8s.EnvVar => ({ name, value })),
    ];
    this.env = envVars.length > 0 ? envVars : undefined;

    const files = props.files ?? {};
    this.volumes = [];
    this.volumeMounts = [];
    const fileData: Record<string, string> = {};
    for (const [mountPath, content] of Object.entries(files)) {
      const key = path.posix.basename(mountPath);
      if (key in fileData) throw new Error(`${props.name}: two config files named ${key}`);
      fileData[key] = content;
      // subPath keeps the rest of the directory (e.g. the image's own conf.d files) visible.
      this.volumeMounts.push({ name: 'config-files', mountPath, subPath: key, readOnly: true });
    }
    if (Object.keys(fileData).length > 0) {
      const configMap = new k8s.KubeConfigMap(this, 'files', { metadata: metadata('files'), data: sortedRecord(fileData) });
      this.volumes.push({ name: 'config-files', configMap: { name: configMap.name } });
    }

    this.checksum = configChecksum(env, fileData);
  }
}

/** Environment variables read from Secrets, by reference; undefined when there are none. */
export function secretEnvVars(secretEnv: Readonly<Record<string, SecretKeyRef>>): k8s.EnvVar[] | undefined {
  const vars = Object.entries(secretEnv).map(([name, ref]): k8s.EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } },
  }));
  return vars.length > 0 ? vars : undefined;
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
