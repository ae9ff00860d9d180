/**
 * What the cluster should hold, read from the stack model that the synth builds (buildStack, the same
 * function as `npm run synth`): the CLI never retypes a name, image or key that the stack defines, and
 * never parses a manifest back.
 */
import * as k8s from '@kubernetes/client-node';
import { App } from 'cdk8s';
import { buildStack } from '../main';
import { loadSiteConfig } from '../lib/config/load-site-config';
import { SiteConfig } from '../lib/config/site-config';
import { SecretKeyRef } from '../lib/connections';
import { MadeSecret } from '../lib/constructs/secrets-bootstrap';
import { ProvisioningSpec } from '../lib/plane/provisioning';
import { appHost, appUrl } from '../lib/site';
import { readersOf, StackModel } from '../lib/stack/stack-model';
import { Workload, WorkloadKind } from '../lib/stack/workload';
import { chartFiles } from '../lib/synth';

export type { SecretKeyMaking } from '../lib/constructs/secrets-bootstrap';

/** A Deployment or StatefulSet the stack runs, with what it should run. */
export type ExpectedWorkload = Workload & { readonly kind: 'Deployment' | 'StatefulSet' };

/** A Secret the bootstrap Job makes. */
export type ExpectedSecret = MadeSecret;

/** A Service of the stack, as a port-forward needs it. */
export interface ServiceRef {
  readonly name: string;
  readonly namespace: string;
  readonly port: number;
}

export class Stack {
  static load(siteFile?: string): Stack {
    return new Stack(loadSiteConfig(siteFile));
  }

  readonly model: StackModel;
  readonly namespace: string;
  readonly edgeNamespace: string;
  readonly appHost: string;
  readonly appUrl: string;
  readonly users: ProvisioningSpec;
  /** The admission policy and binding the keep-data Job applies (not in dist/: kubectl delete -f dist cannot remove them). */
  readonly keepDataGuard: readonly { readonly kind: string; readonly name: string }[];
  readonly secrets: readonly ExpectedSecret[];
  /** The long-running workloads: what verify expects to be available. */
  readonly workloads: readonly ExpectedWorkload[];
  /** The file of dist/ that holds the namespace (applied alone before loading Secrets). */
  readonly namespaceFile: string;

  /** `build` is main.ts' buildStack; tests may add to the stack first. */
  constructor(
    readonly site: SiteConfig,
    build: (app: App, site: SiteConfig) => StackModel = buildStack,
  ) {
    const model = build(new App({ outdir: 'unused' }), site);
    this.model = model;
    this.namespace = model.namespace;
    this.edgeNamespace = model.edgeNamespace;
    this.appHost = appHost(site);
    this.appUrl = appUrl(site);
    this.users = model.users;
    this.keepDataGuard = model.keepDataGuard;
    this.secrets = model.secrets;
    this.workloads = model.workloads.filter((w): w is ExpectedWorkload => w.kind === 'Deployment' || w.kind === 'StatefulSet');
    const namespaceFile = chartFiles(model.charts).find((f) => f.chart === model.namespaceChart)?.file;
    if (!namespaceFile) throw new Error('the stack has no namespace file');
    this.namespaceFile = namespaceFile;
  }

  /** The one workload of `kind` whose component is `component` (e.g. the migrator Job). */
  workload(kind: WorkloadKind, component: string): Workload {
    const found = this.maybeWorkload(kind, component);
    if (!found) throw new Error(`the stack has no ${kind} ${component}`);
    return found;
  }

  /** Same, or undefined when the site does not make it (e.g. the postgres-bootstrap Job with an in-cluster server). */
  maybeWorkload(kind: WorkloadKind, component: string): Workload | undefined {
    return this.model.workloads.find((w) => w.kind === kind && w.component === component);
  }

  /** The Service a component answers on, e.g. `api`, `postgres`, `caddy`. */
  service(component: string): ServiceRef {
    const workload = this.model.workloads.find((w) => w.component === component && w.endpoint);
    if (!workload?.endpoint) throw new Error(`the stack has no Service of ${component}`);
    return { name: workload.name, namespace: workload.namespace, port: workload.endpoint.port };
  }

  /** The api Service that Plane's HTTP API and health answer on. */
  get apiService(): ServiceRef {
    return this.service('api');
  }

  get secretNames(): string[] {
    return this.secrets.map((s) => s.name);
  }

  /** The Secret key a component's Deployment reads as `variable`, e.g. the api's POSTGRES_PASSWORD. */
  secretRefOf(component: string, variable: string): SecretKeyRef {
    const ref = this.workload('Deployment', component).secretEnv[variable];
    if (!ref) throw new Error(`the ${component} container reads no Secret as ${variable}`);
    return ref;
  }

  /** Every variable a component's Deployment declares: plain, derived and from Secrets. */
  declaredEnv(component: string): string[] {
    return [...this.workload('Deployment', component).variables];
  }

  /** The workloads whose pods read `key` of a Secret (any key when none is given). */
  readersOf(secretName: string, key?: string): Workload[] {
    return readersOf(this.model, secretName, key);
  }

  secret(name: string): ExpectedSecret | undefined {
    return this.secrets.find((s) => s.name === name);
  }

  /** An object as the synth renders it (what `kubectl apply -f dist` stores), to compare with the live one. */
  rendered(kind: string, namespace: string, name: string): Record<string, unknown> | undefined {
    this.renderedObjects ??= this.model.charts.flatMap((chart) => chart.toJson());
    return this.renderedObjects.find((o) => o.kind === kind && o.metadata?.name === name && (o.metadata?.namespace ?? '') === namespace);
  }

  /** The ConfigMaps a Deployment's pods read (mounted or as environment), by name. */
  configMapsOf(workload: Workload): string[] {
    const deployment = this.rendered(workload.kind, workload.namespace, workload.name) as k8s.V1Deployment | undefined;
    const pod = deployment?.spec?.template.spec;
    const names = [
      ...(pod?.volumes ?? []).flatMap((v) => (v.configMap?.name ? [v.configMap.name] : [])),
      ...[...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].flatMap((c) =>
        (c.envFrom ?? []).flatMap((e) => (e.configMapRef?.name ? [e.configMapRef.name] : [])),
      ),
    ];
    return [...new Set(names)].sort();
  }

  private renderedObjects?: { kind: string; metadata?: { name?: string; namespace?: string }; [key: string]: unknown }[];
}

/** A Secret the pods read that the bootstrap Job does not make (the operator's: TLS, a shared server's admin). */
export interface ProvidedSecret {
  readonly name: string;
  readonly namespace: string;
  readonly keys: readonly string[];
}

/** Secrets the workloads read, minus those the bootstrap Job makes, with the keys read by name. */
export function providedSecrets(stack: Stack): ProvidedSecret[] {
  const made = new Set(stack.secrets.map((s) => `${s.namespace}/${s.name}`));
  const found = new Map<string, Set<string>>();
  for (const workload of stack.model.workloads) {
    for (const read of workload.secretsRead) {
      const id = `${workload.namespace}/${read.secretName}`;
      if (made.has(id)) continue;
      const keys = found.get(id) ?? new Set<string>();
      if (read.key) keys.add(read.key);
      found.set(id, keys);
    }
  }
  return [...found.entries()].map(([id, keys]) => {
    const [namespace, name] = id.split('/');
    return { namespace, name, keys: [...keys].sort() };
  });
}
