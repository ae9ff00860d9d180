/**
 * What the rest of the stack knows of one workload, built by the construct that makes it (never read
 * back from manifests): who it is, what it runs, which Secret keys it reads and whom it calls. The
 * NetworkPolicies derive from the calls, `plane-k3s` reads the rest (e.g. a Secret's readers).
 */
import { SecretKeyRef, ServiceEndpoint } from '../connections';
import { WorkloadLabels } from '../labels';
import { Peer, PodPeer, PortSpec } from '../network/peers';

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'Job' | 'CronJob';

/** A connection the workload opens. */
export interface Call {
  readonly to: Peer;
  readonly ports: readonly PortSpec[];
}

/** A connection the workload accepts from a peer that declares none: clients outside the cluster. */
export interface Admission {
  readonly from: Peer;
  readonly ports: readonly PortSpec[];
}

/** A call to a Service's port. */
export function callTo(endpoint: ServiceEndpoint): Call {
  return { to: endpoint.peer, ports: [{ port: endpoint.port }] };
}

/** A Secret the workload's pods read: one key (a variable), or every key (`envFrom`, a volume). */
export interface SecretRead {
  readonly secretName: string;
  /** @default every key of the Secret */
  readonly key?: string;
}

/** What a workload's constructs are told about its flows. */
export interface WorkloadFlows {
  /** Connections it opens. @default none */
  readonly calls?: readonly Call[];
  /** Connections it accepts from peers that declare none (e.g. the VPN). @default none */
  readonly admits?: readonly Admission[];
}

export interface Workload {
  readonly kind: WorkloadKind;
  /** The object's name in the cluster ("plane-api"; a versioned Job's full name). */
  readonly name: string;
  readonly namespace: string;
  /** The component (app.kubernetes.io/name), e.g. "api": stable across versions. */
  readonly component: string;
  /** The seed's zone (app.kubernetes.io/component). */
  readonly zone: string;
  /** Its pods, for NetworkPolicies. */
  readonly peer: PodPeer;
  /** Pods it keeps running (a Job or CronJob: 1 per run). */
  readonly replicas: number;
  /** Container name → image, init containers first. */
  readonly images: Readonly<Record<string, string>>;
  /** Its main container (the last one; init containers come first). */
  readonly container: string;
  /** A CronJob's schedule. @default none */
  readonly schedule?: string;
  /** The Service it answers on. @default none */
  readonly endpoint?: ServiceEndpoint;
  /** Every variable its main container declares (plain, derived and from Secrets), sorted. */
  readonly variables: readonly string[];
  /** Its main container's variables read from Secrets. */
  readonly secretEnv: Readonly<Record<string, SecretKeyRef>>;
  /** Every Secret key any of its containers reads (variables, `envFrom`, volumes). */
  readonly secretsRead: readonly SecretRead[];
  readonly calls: readonly Call[];
  readonly admits: readonly Admission[];
  /** Reaches nothing and is reached by nothing, DNS aside (the restore drill's own server). */
  readonly isolated: boolean;
  /**
   * A Job that hands the Secret values it reads on (provisioning writes the tokens into Plane): it
   * runs again when one of them is rotated. Running processes restart instead; other Jobs and
   * CronJobs read the new value at their next run.
   */
  readonly handsSecretsOn: boolean;
}

/** What a construct knows when it describes its workload. */
export interface WorkloadDescription extends WorkloadFlows {
  readonly kind: WorkloadKind;
  readonly name: string;
  readonly namespace: string;
  readonly labels: WorkloadLabels;
  readonly replicas?: number;
  readonly containers: readonly { readonly name: string; readonly image: string }[];
  readonly schedule?: string;
  readonly endpoint?: ServiceEndpoint;
  /** Variables of the main container, by name: plain names and Secret references. */
  readonly variables?: readonly string[];
  readonly secretEnv?: Readonly<Record<string, SecretKeyRef>>;
  /** Secret keys read by its other containers, and whole Secrets mounted as files. @default none */
  readonly otherSecretsRead?: readonly SecretRead[];
  readonly isolated?: boolean;
  readonly handsSecretsOn?: boolean;
  /** Name of its pods' NetworkPolicy. @default name (a versioned Job gives its base name) */
  readonly policyName?: string;
}

export const NAME_LABEL = 'app.kubernetes.io/name';
export const ZONE_LABEL = 'app.kubernetes.io/component';

export function describeWorkload(d: WorkloadDescription): Workload {
  const secretEnv = d.secretEnv ?? {};
  return {
    kind: d.kind,
    name: d.name,
    namespace: d.namespace,
    component: d.labels.selector[NAME_LABEL],
    zone: d.labels.all[ZONE_LABEL],
    peer: { name: d.policyName ?? d.name, namespace: d.namespace, podSelector: { ...d.labels.selector } },
    replicas: d.replicas ?? 1,
    images: Object.fromEntries(d.containers.map((c) => [c.name, c.image])),
    container: d.containers[d.containers.length - 1].name,
    schedule: d.schedule,
    endpoint: d.endpoint,
    variables: [...new Set([...(d.variables ?? []), ...Object.keys(secretEnv)])].sort(),
    secretEnv,
    secretsRead: [...Object.values(secretEnv).map((ref) => ({ secretName: ref.secretName, key: ref.key })), ...(d.otherSecretsRead ?? [])],
    calls: d.calls ?? [],
    admits: d.admits ?? [],
    isolated: d.isolated ?? false,
    handsSecretsOn: d.handsSecretsOn ?? false,
  };
}

/** Whether the workload reads `key` of Secret `secretName` (or the whole Secret). */
export function readsSecret(workload: Workload, secretName: string, key?: string): boolean {
  return workload.secretsRead.some((r) => r.secretName === secretName && (key === undefined || r.key === undefined || r.key === key));
}
