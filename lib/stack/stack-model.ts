/**
 * The stack as the charts, the NetworkPolicies and `plane-k3s` read it, built once by buildStack
 * (main.ts) from the constructs themselves: each workload once, with what it reads and whom it calls.
 */
import { Chart } from 'cdk8s';
import { IConstruct } from 'constructs';
import { SiteConfig } from '../config/site-config';
import { CaddyAuditLogLocation } from '../edge/caddy';
import { MadeSecret } from '../constructs/secrets-bootstrap';
import { Flow, isPodPeer, peerKey } from '../network/peers';
import { ProvisioningSpec } from '../plane/provisioning';
import { readsSecret, Workload } from './workload';

export interface StackModel {
  readonly site: SiteConfig;
  /** The charts in the order `kubectl apply -f dist` takes them (its files are numbered so). */
  readonly charts: readonly Chart[];
  /** The chart with the stack's namespace: applied alone before Secrets are loaded into it. */
  readonly namespaceChart: Chart;
  readonly namespace: string;
  readonly edgeNamespace: string;
  /** Every workload of the stack, in the order their constructs were made. */
  readonly workloads: readonly Workload[];
  /** Every allowed connection: the workloads' calls and admissions (the NetworkPolicies' source). */
  readonly flows: readonly Flow[];
  /** The Secrets the bootstrap Job makes, and how it makes each key. */
  readonly secrets: readonly MadeSecret[];
  /** What the provisioning Job converges Plane to. */
  readonly users: ProvisioningSpec;
  /** Caddy's access log, the audit trail `plane-k3s audit` reads. */
  readonly edgeAuditLog: CaddyAuditLogLocation;
  /** The admission objects the keep-data Job applies (outside dist/); none when no data is kept in the cluster. */
  readonly keepDataGuard: readonly { readonly kind: string; readonly name: string }[];
}

/** Every workload a construct tree makes: the constructs that describe one (`workload`) or several (`workloads`). */
export function workloadsIn(scope: IConstruct): Workload[] {
  const found = scope.node.findAll().flatMap((c) => {
    const described = c as Partial<{ readonly workload: Workload; readonly workloads: readonly Workload[] }>;
    return described.workload ? [described.workload] : [...(described.workloads ?? [])];
  });
  const seen = new Set<string>();
  for (const w of found) {
    const key = `${w.kind}/${w.namespace}/${w.component}`;
    if (seen.has(key)) throw new Error(`two workloads are ${key}: a component name must be unique`);
    seen.add(key);
  }
  return found;
}

/**
 * The flows the workloads declare: each call from its workload, each admission to it. A call to pods
 * that no workload runs is a wiring mistake (the policy would select nothing).
 */
export function flowsOf(workloads: readonly Workload[]): Flow[] {
  const pods = new Set(workloads.map((w) => peerKey(w.peer)));
  const flows = workloads.flatMap((w) => [
    ...w.calls.map((c) => ({ from: w.peer, to: c.to, ports: c.ports })),
    ...w.admits.map((a) => ({ from: a.from, to: w.peer, ports: a.ports })),
  ]);
  for (const flow of flows) {
    for (const end of [flow.from, flow.to]) {
      if (isPodPeer(end) && !pods.has(peerKey(end)))
        throw new Error(`a flow names pods ${peerKey(end)} that no workload of the stack runs`);
    }
  }
  return flows;
}

/** The workloads whose pods read `key` of Secret `secretName` (any key when none is given). */
export function readersOf(model: Pick<StackModel, 'workloads'>, secretName: string, key?: string): Workload[] {
  return model.workloads.filter((w) => readsSecret(w, secretName, key));
}
