/**
 * How the stack runs Plane's api, read from what the synth makes (the stack model names the Deployment
 * and its container; its manifest gives the rest): replicas, CPU and memory limits, gunicorn workers and
 * the per-token rate limit, as the pod gets them (its env and the ConfigMaps it loads). The capacity
 * table in docs/capacity.md records these, and test/capacity-doc.test.ts fails when they change.
 */
import { cpuToMillicores, quantityToBytes } from '../../lib/config/quantity';
import { SITE_CONFIG_ENV } from '../../lib/synth';
import { Stack } from '../../ops/stack';

export interface ApiServing {
  readonly replicas: number;
  readonly cpuLimit: string;
  readonly memoryLimit: string;
  readonly gunicornWorkers: string;
  readonly rateLimit: string;
}

interface Container {
  readonly name: string;
  readonly env?: { readonly name: string; readonly value?: string }[];
  readonly envFrom?: { readonly configMapRef?: { readonly name: string } }[];
  readonly resources?: { readonly limits?: Record<string, string> };
}

interface Manifest {
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly data?: Record<string, string>;
  readonly spec?: { readonly replicas?: number; readonly template: { readonly spec: { readonly containers: Container[] } } };
}

export function apiServing(stack: Stack): ApiServing {
  const workload = stack.workload('Deployment', 'api');
  const manifests = stack.model.charts.flatMap((chart) => chart.toJson()) as Manifest[];
  const byName = (kind: string, name: string) => {
    const found = manifests.find((m) => m.kind === kind && m.metadata?.name === name && m.metadata?.namespace === workload.namespace);
    if (!found) throw new Error(`the synth makes no ${kind} ${workload.namespace}/${name}`);
    return found;
  };
  const deployment = byName('Deployment', workload.name);
  const container = deployment.spec?.template.spec.containers.find((c) => c.name === workload.container);
  if (!container) throw new Error(`Deployment ${workload.name} has no container ${workload.container}`);
  // As Kubernetes builds the environment: the ConfigMaps in order, then env over them.
  const env: Record<string, string | undefined> = {};
  for (const source of container.envFrom ?? [])
    if (source.configMapRef) Object.assign(env, byName('ConfigMap', source.configMapRef.name).data);
  for (const variable of container.env ?? []) env[variable.name] = variable.value;
  const need = (value: string | undefined, what: string): string => {
    if (value === undefined) throw new Error(`the api's container sets no ${what}`);
    return value;
  };
  return {
    replicas: deployment.spec?.replicas ?? 1,
    cpuLimit: need(container.resources?.limits?.cpu, 'CPU limit'),
    memoryLimit: need(container.resources?.limits?.memory, 'memory limit'),
    gunicornWorkers: need(env.GUNICORN_WORKERS, 'GUNICORN_WORKERS'),
    rateLimit: need(env.API_KEY_RATE_LIMIT, 'API_KEY_RATE_LIMIT'),
  };
}

export function describeApiServing(serving: ApiServing): string {
  return `${serving.replicas} replica${serving.replicas === 1 ? '' : 's'}, ${serving.cpuLimit} CPU and ${serving.memoryLimit} limits, ${serving.gunicornWorkers} gunicorn workers, API_KEY_RATE_LIMIT ${serving.rateLimit}`;
}

/** `node build/bench/load/stack-api.js`: the api's serving as shell assignments, for bench/api-in-cgroup.sh. */
if (require.main === module) {
  const serving = apiServing(Stack.load(process.env[SITE_CONFIG_ENV] || undefined));
  const period = 100_000;
  console.log(
    [
      `API_CPU_QUOTA_US=${Math.round((cpuToMillicores(serving.cpuLimit) / 1000) * period)}`,
      `API_CPU_PERIOD_US=${period}`,
      `API_MEMORY_BYTES=${quantityToBytes(serving.memoryLimit)}`,
      `GUNICORN_WORKERS=${serving.gunicornWorkers}`,
      `API_KEY_RATE_LIMIT=${serving.rateLimit}`,
    ].join('\n'),
  );
}
