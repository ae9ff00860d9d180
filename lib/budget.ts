/**
 * Footprint of the synthesized stack: requests and limits of every container, times replicas.
 * Jobs count too: the migrator runs beside the Deployments during an upgrade. The suspended CronJobs
 * (templates the operator's CLI runs one at a time: restore, upgrade rehearsal) count as the largest of them.
 */
import { SiteConfig } from './config/site-config';
import { cpuToMillicores, formatBytes, formatMillicores, quantityToBytes } from './config/quantity';

export interface Footprint {
  readonly requestsMillicores: number;
  readonly requestsBytes: number;
  readonly limitsMillicores: number;
  readonly limitsBytes: number;
}

export interface WorkloadFootprint extends Footprint {
  readonly kind: string;
  readonly name: string;
  readonly replicas: number;
  /** A suspended CronJob: a template run by hand, never on a schedule. */
  readonly onDemand: boolean;
}

interface PodTemplateLike {
  readonly spec?: { readonly containers?: ContainerLike[]; readonly initContainers?: ContainerLike[] };
}

interface Manifest {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string };
  readonly spec?: {
    readonly replicas?: number;
    readonly parallelism?: number;
    readonly suspend?: boolean;
    readonly template?: PodTemplateLike;
    readonly jobTemplate?: { readonly spec?: { readonly template?: PodTemplateLike } };
  };
}

interface ContainerLike {
  readonly resources?: {
    readonly requests?: Record<string, string>;
    readonly limits?: Record<string, string>;
  };
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'CronJob']);

export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

/** Per-workload footprint of a list of manifests (non-workload objects are skipped). */
export function workloadFootprints(manifests: readonly unknown[]): WorkloadFootprint[] {
  return (manifests as Manifest[])
    .filter((m) => WORKLOAD_KINDS.has(m.kind ?? ''))
    .map((m) => {
      const replicas = m.kind === 'Job' || m.kind === 'CronJob' ? (m.spec?.parallelism ?? 1) : (m.spec?.replicas ?? 1);
      const pod = (m.kind === 'CronJob' ? m.spec?.jobTemplate?.spec?.template : m.spec?.template)?.spec;
      const containers = pod?.containers ?? [];
      // As the scheduler counts a pod: its containers together, or its largest init container if larger.
      const sum = (pick: (c: ContainerLike) => string | undefined, parse: (v: string) => number) =>
        Math.max(
          containers.reduce((total, c) => total + parse(pick(c) ?? '0'), 0),
          ...(pod?.initContainers ?? []).map((c) => parse(pick(c) ?? '0')),
        ) * replicas;
      return {
        kind: m.kind ?? '',
        name: m.metadata?.name ?? '',
        replicas,
        onDemand: m.kind === 'CronJob' && m.spec?.suspend === true,
        requestsMillicores: sum((c) => c.resources?.requests?.cpu, cpuToMillicores),
        requestsBytes: sum((c) => c.resources?.requests?.memory, quantityToBytes),
        limitsMillicores: sum((c) => c.resources?.limits?.cpu, cpuToMillicores),
        limitsBytes: sum((c) => c.resources?.limits?.memory, quantityToBytes),
      };
    });
}

export function totalFootprint(workloads: readonly Footprint[]): Footprint {
  return workloads.reduce(
    (total, w) => ({
      requestsMillicores: total.requestsMillicores + w.requestsMillicores,
      requestsBytes: total.requestsBytes + w.requestsBytes,
      limitsMillicores: total.limitsMillicores + w.limitsMillicores,
      limitsBytes: total.limitsBytes + w.limitsBytes,
    }),
    { requestsMillicores: 0, requestsBytes: 0, limitsMillicores: 0, limitsBytes: 0 },
  );
}

/** What the stack reserves at most at once: every scheduled workload, and the largest of the templates run by hand. */
export function reservedFootprint(workloads: readonly WorkloadFootprint[]): Footprint {
  const onDemand = workloads.filter((w) => w.onDemand);
  const largest = (pick: (w: Footprint) => number) => Math.max(0, ...onDemand.map(pick));
  return totalFootprint([
    ...workloads.filter((w) => !w.onDemand),
    {
      requestsMillicores: largest((w) => w.requestsMillicores),
      requestsBytes: largest((w) => w.requestsBytes),
      limitsMillicores: largest((w) => w.limitsMillicores),
      limitsBytes: largest((w) => w.limitsBytes),
    },
  ]);
}

/** Throws BudgetError when the stack's requests exceed vps.budget. */
export function checkBudget(site: SiteConfig, manifests: readonly unknown[]): void {
  const total = reservedFootprint(workloadFootprints(manifests));
  const budget = site.vps.budget;
  const problems: string[] = [];
  if (total.requestsMillicores > cpuToMillicores(budget.cpu)) {
    problems.push(`CPU requests ${formatMillicores(total.requestsMillicores)} exceed vps.budget.cpu (${budget.cpu})`);
  }
  if (total.requestsBytes > quantityToBytes(budget.memory)) {
    problems.push(`memory requests ${formatBytes(total.requestsBytes)} exceed vps.budget.memory (${budget.memory})`);
  }
  if (problems.length > 0) {
    throw new BudgetError(
      `the stack does not fit its budget on ${site.vps.hostname}: ${problems.join('; ')}. ` +
        'Lower components.*.resources.requests / data.*.resources.requests or replicas, or raise vps.budget.',
    );
  }
}
