/**
 * The stack's PriorityClasses: which of its pods the kubelet evicts first when the node runs short of
 * memory (or disk), and which may take a place from others at scheduling.
 *
 * Under node pressure the kubelet ranks the pods to evict (docs: "Node-pressure eviction"):
 *   1. first those whose usage of the starved resource exceeds their requests,
 *   2. then by priority (lowest first),
 *   3. then by how far their usage exceeds their requests.
 * So priority decides between pods that are all above their requests (requests are honest here: each
 * container's requests are its measured steady use, the site file's `resources`); a pod within its
 * requests is evicted only after every pod above them.
 *
 * Ranks, from the last evicted to the first (PRIORITY_TIERS):
 * - data: the data StatefulSets (PostgreSQL, Valkey, RabbitMQ, Garage): killing one loses in-flight
 *   writes and stops everything else;
 * - serving: the request path every page goes through, Caddy (the edge) and the api;
 * - app: the frontends, live and the Celery workers (a task waits in RabbitMQ; a page reloads);
 * - jobs: the Jobs and CronJobs (migrator, provisioning, secrets bootstrap, keep-data guard, backups and
 *   their drill): each runs again (backoffLimit, the next schedule) and none serves a user.
 *
 * Values are far below the cluster's own classes (system-cluster-critical 2000000000,
 * system-node-critical 2000001000), so CoreDNS, the k3s add-ons and the kubelet's static pods always
 * outrank Plane. None is the global default: pods of other stacks keep priority 0.
 *
 * Preemption: only the data class may preempt (PreemptLowerPriority); the others are Never. On one node
 * a pending pod that preempts evicts the running pods of lower classes (ours included) to take their
 * place. A data service must come back even on a full node (without it nothing works), and the pods it
 * would evict are of lower classes only, never another data service (the same class). A pod of the
 * other classes (a rollout's surge pod, a Job) waits for room instead of killing a running worker,
 * frontend or backup: the rollout shows as Pending rather than as a worker killed mid-task. Nothing of
 * ours can preempt a data service: preemption only ever evicts pods of a lower priority.
 *
 * The classes are cluster-scoped: their names start with the stack's namespace ("plane-data"), as the
 * keep-data guard's do, so two sites on one cluster each have their own.
 */
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { WorkloadKind } from '../stack/workload';

/** The ranks, from the last evicted to the first. */
export const PRIORITY_TIERS = ['data', 'serving', 'app', 'jobs'] as const;
export type PriorityTier = (typeof PRIORITY_TIERS)[number];

/** Each class's value: ordered data > serving > app > jobs, all far below system-cluster-critical. */
export const PRIORITY_VALUES: Readonly<Record<PriorityTier, number>> = {
  data: 1_000_000,
  serving: 900_000,
  app: 800_000,
  jobs: 100_000,
};

/** Only the data services may evict lower-priority pods to be scheduled (see the file comment). */
export const PREEMPTION_POLICIES: Readonly<Record<PriorityTier, 'PreemptLowerPriority' | 'Never'>> = {
  data: 'PreemptLowerPriority',
  serving: 'Never',
  app: 'Never',
  jobs: 'Never',
};

const DESCRIPTIONS: Readonly<Record<PriorityTier, string>> = {
  data: 'data services: evicted last under node pressure; may preempt lower classes',
  serving: 'the request path (edge, api): evicted after the app and jobs classes',
  app: 'frontends, live and workers: evicted before the request path and the data',
  jobs: 'Jobs and CronJobs: evicted first, each runs again',
};

/** The class of a tier in the stack whose namespace is `stackNamespace`, e.g. "plane-data". */
export function priorityClassName(stackNamespace: string, tier: PriorityTier): string {
  return `${stackNamespace}-${tier}`;
}

/** What decides a workload's tier: its kind, its zone, and whether it serves a port. */
export interface TierInput {
  readonly kind: WorkloadKind;
  /** The zone (app.kubernetes.io/component). */
  readonly zone: string;
  /** It answers on a Service (the api does; the beat scheduler does not). */
  readonly serves: boolean;
}

/**
 * A workload's tier: Jobs and CronJobs lowest whatever their zone; the data zone highest; the edge, and
 * a backend that serves (the api), next; everything else (frontends, live, workers) the app tier.
 */
export function priorityTier(w: TierInput): PriorityTier {
  if (w.kind === 'Job' || w.kind === 'CronJob') return 'jobs';
  if (w.zone === 'data') return 'data';
  if (w.zone === 'edge' || (w.zone === 'backend' && w.serves)) return 'serving';
  return 'app';
}

export interface PriorityClassesProps {
  /** The stack's namespace: the classes are named after it. */
  readonly stackNamespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The stack's four PriorityClasses (cluster-scoped). */
export class PriorityClasses extends Construct {
  /** Tier → class name. */
  readonly names: Readonly<Record<PriorityTier, string>>;

  constructor(scope: Construct, id: string, props: PriorityClassesProps) {
    super(scope, id);
    const names = {} as Record<PriorityTier, string>;
    for (const tier of PRIORITY_TIERS) {
      names[tier] = priorityClassName(props.stackNamespace, tier);
      new k8s.KubePriorityClass(this, tier, {
        metadata: { name: names[tier], labels: { ...props.labels } },
        value: PRIORITY_VALUES[tier],
        // globalDefault is false unless set: written out, the API server drops it and every apply reports "configured".
        preemptionPolicy: PREEMPTION_POLICIES[tier],
        description: DESCRIPTIONS[tier],
      });
    }
    this.names = names;
  }
}
