/**
 * What the cluster should hold, read from the manifests the site synthesizes (the same function as
 * `npm run synth`): the CLI never retypes a name, image or key that the stack defines.
 */
import { buildStack } from '../main';
import { SiteConfig } from '../lib/config/site-config';
import { loadSiteConfig } from '../lib/config/load-site-config';
import { SecretKeyRef } from '../lib/connections';
import { ProvisioningSpec } from '../lib/plane/provisioning';
import { appHost, appUrl } from '../lib/site';
import { App } from 'cdk8s';
import { chartFiles } from '../lib/synth';

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly spec?: any;
  readonly data?: Record<string, string>;
}

/** A Deployment or StatefulSet the stack runs, with what it should run. */
export interface ExpectedWorkload {
  readonly kind: 'Deployment' | 'StatefulSet';
  readonly name: string;
  readonly namespace: string;
  readonly replicas: number;
  /** Container name → image, init containers included. */
  readonly images: Readonly<Record<string, string>>;
}

/** How a generated Secret is made (the bootstrap Job's spec). */
export type SecretKeyMaking = { readonly generate: string } | { readonly value: string };

export interface ExpectedSecret {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly keys: Readonly<Record<string, SecretKeyMaking>>;
}

const NAME_LABEL = 'app.kubernetes.io/name';

export class Stack {
  static load(siteFile?: string): Stack {
    return new Stack(loadSiteConfig(siteFile));
  }

  readonly manifests: readonly Manifest[];
  readonly namespace: string;
  readonly edgeNamespace: string;
  readonly appHost: string;
  readonly appUrl: string;
  readonly users: ProvisioningSpec;
  /** The admission policy and binding the keep-data Job applies (not in dist/: kubectl delete -f dist cannot remove them). */
  readonly keepDataGuard: readonly { readonly kind: string; readonly name: string }[];
  readonly secrets: readonly ExpectedSecret[];
  readonly workloads: readonly ExpectedWorkload[];
  /** The file of dist/ that holds the namespace (applied alone before loading Secrets). */
  readonly namespaceFile: string;

  constructor(readonly site: SiteConfig) {
    const files = chartFiles(buildStack(new App({ outdir: 'unused' }), site));
    this.manifests = files.flatMap((f) => f.objects) as unknown as Manifest[];
    this.namespace = site.kubernetes.namespace;
    this.namespaceFile = files.find((f) => f.objects.some((o: any) => o.kind === 'Namespace' && o.metadata.name === this.namespace))?.file as string;
    this.edgeNamespace = site.edge.namespace;
    this.appHost = appHost(site);
    this.appUrl = appUrl(site);
    this.users = JSON.parse(this.configMapFile('provisioning', 'users.json'));
    // The guard the keep-data Job applies outside dist/ (a site without data claims has none).
    this.keepDataGuard = this.maybeByName('Job', 'keep-data')
      ? (JSON.parse(this.configMapFile('keep-data', 'keep-data.json')).objects as Manifest[]).map((o) => ({ kind: o.kind as string, name: o.metadata.name as string }))
      : [];
    const secretsSpec = JSON.parse(this.configMapFile('secrets-bootstrap', 'secrets.json'));
    this.secrets = secretsSpec.secrets.map((s: Omit<ExpectedSecret, 'namespace'>) => ({ ...s, namespace: secretsSpec.namespace }));
    this.workloads = this.manifests
      .filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet')
      .map((m) => {
        const pod = m.spec.template.spec;
        const containers = [...(pod.initContainers ?? []), ...pod.containers] as { name: string; image: string }[];
        return {
          kind: m.kind as ExpectedWorkload['kind'],
          name: m.metadata.name,
          namespace: m.metadata.namespace ?? this.namespace,
          replicas: m.spec.replicas ?? 1,
          images: Object.fromEntries(containers.map((c) => [c.name, c.image])),
        };
      });
  }

  /** The one object of `kind` whose app.kubernetes.io/name is `name` (e.g. the migrator Job). */
  byName(kind: string, name: string): Manifest {
    const found = this.manifests.filter((m) => m.kind === kind && m.metadata.labels?.[NAME_LABEL] === name);
    if (found.length !== 1) throw new Error(`the stack has ${found.length} ${kind} named ${name}, expected one`);
    return found[0];
  }

  /** Same, or undefined when the site does not make it (e.g. in-cluster PostgreSQL with an external one). */
  maybeByName(kind: string, name: string): Manifest | undefined {
    return this.manifests.find((m) => m.kind === kind && m.metadata.labels?.[NAME_LABEL] === name);
  }

  /** A file of the ConfigMap mounted into the Job named `job` (its spec: users, secrets). */
  private configMapFile(job: string, file: string): string {
    const jobManifest = this.byName('Job', job);
    const volumes = jobManifest.spec.template.spec.volumes as { configMap?: { name: string } }[];
    for (const volume of volumes) {
      const configMap = this.manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === volume.configMap?.name);
      if (configMap?.data?.[file] !== undefined) return configMap.data[file];
    }
    throw new Error(`the ${job} Job mounts no ${file}`);
  }

  /** The (not headless) Service of a component, e.g. `api`, `postgres`, `caddy`. */
  service(name: string): Manifest {
    const found = this.manifests.filter((m) => m.kind === 'Service' && m.metadata.labels?.[NAME_LABEL] === name && m.spec?.clusterIP !== 'None');
    if (found.length !== 1) throw new Error(`the stack has ${found.length} Services of ${name}, expected one`);
    return found[0];
  }

  /** The api Service (name and port) that Plane's HTTP API and health answer on. */
  get apiService(): { name: string; port: number } {
    const service = this.service('api');
    return { name: service.metadata.name, port: service.spec.ports[0].port };
  }

  get secretNames(): string[] {
    return this.secrets.map((s) => s.name);
  }

  /** The Secret key a component's (first) container reads as `variable`, e.g. the api's POSTGRES_PASSWORD. */
  secretRefOf(component: string, variable: string): SecretKeyRef {
    const container = this.byName('Deployment', component).spec.template.spec.containers[0];
    const ref = (container.env ?? []).find((e: { name: string }) => e.name === variable)?.valueFrom?.secretKeyRef;
    if (!ref) throw new Error(`the ${component} container reads no Secret as ${variable}`);
    return { secretName: ref.name, key: ref.key };
  }

  /** Every variable a component's (first) container declares: its env and the keys of its ConfigMaps. */
  declaredEnv(component: string): string[] {
    const container = this.byName('Deployment', component).spec.template.spec.containers[0];
    const names = new Set<string>((container.env ?? []).map((e: { name: string }) => e.name));
    for (const from of container.envFrom ?? []) {
      const configMap = from.configMapRef && this.manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === from.configMapRef.name);
      for (const key of Object.keys(configMap?.data ?? {})) names.add(`${from.prefix ?? ''}${key}`);
    }
    return [...names].sort();
  }

  /** The Deployments whose pods read a Secret (env, envFrom or a volume): its consumers. */
  deploymentsReading(secretName: string): Manifest[] {
    return this.manifests.filter((m) => m.kind === 'Deployment' && readsSecret(m.spec.template.spec, secretName));
  }

  secret(name: string): ExpectedSecret | undefined {
    return this.secrets.find((s) => s.name === name);
  }
}

function readsSecret(spec: any, name: string): boolean {
  const containers = [...(spec.initContainers ?? []), ...spec.containers];
  return containers.some((c: any) => (c.env ?? []).some((e: any) => e.valueFrom?.secretKeyRef?.name === name)
    || (c.envFrom ?? []).some((f: any) => f.secretRef?.name === name))
    || (spec.volumes ?? []).some((v: any) => v.secret?.secretName === name);
}

/** A Secret the pods read that the bootstrap Job does not make (the operator's: TLS, a shared server's admin). */
export interface ProvidedSecret {
  readonly name: string;
  readonly namespace: string;
  readonly keys: readonly string[];
}

/** Every pod template of the manifests, with its namespace. */
export function podSpecs(manifests: readonly Manifest[], defaultNamespace: string): { namespace: string; owner: string; spec: any }[] {
  const out: { namespace: string; owner: string; spec: any }[] = [];
  for (const m of manifests) {
    const template = m.kind === 'CronJob' ? m.spec?.jobTemplate?.spec?.template : m.spec?.template;
    if (template?.spec) out.push({ namespace: m.metadata.namespace ?? defaultNamespace, owner: `${m.kind}/${m.metadata.name}`, spec: template.spec });
  }
  return out;
}

/** Secrets referenced by pods (env, envFrom, volumes), minus those in `made`; optional references left out. */
export function providedSecrets(stack: Stack): ProvidedSecret[] {
  const made = new Set(stack.secretNames.map((name) => `${stack.namespace}/${name}`));
  const found = new Map<string, Set<string>>();
  const note = (namespace: string, name: string, key?: string) => {
    const id = `${namespace}/${name}`;
    if (made.has(id)) return;
    const keys = found.get(id) ?? new Set<string>();
    if (key) keys.add(key);
    found.set(id, keys);
  };
  for (const { namespace, spec } of podSpecs(stack.manifests, stack.namespace)) {
    for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
      for (const env of container.env ?? []) {
        const ref = env.valueFrom?.secretKeyRef;
        if (ref && !ref.optional) note(namespace, ref.name, ref.key);
      }
      for (const from of container.envFrom ?? []) {
        if (from.secretRef && !from.secretRef.optional) note(namespace, from.secretRef.name);
      }
    }
    for (const volume of spec.volumes ?? []) {
      const sources = volume.secret ? [volume.secret] : (volume.projected?.sources ?? []).map((s: any) => s.secret).filter(Boolean);
      for (const source of sources) {
        const name = source.secretName ?? source.name;
        if (source.optional) continue;
        if (source.items?.length) for (const item of source.items) note(namespace, name, item.key);
        else note(namespace, name);
      }
    }
  }
  return [...found.entries()].map(([id, keys]) => {
    const [namespace, name] = id.split('/');
    return { namespace, name, keys: [...keys].sort() };
  });
}
