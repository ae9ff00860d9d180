/**
 * Wiring only: which charts make the stack and what each passes to the next.
 * `npx cdk8s synth` and `npm run synth` run it through bin/synth.ts; SITE_CONFIG selects another site file.
 */
import { App, Chart } from 'cdk8s';
import { NamespaceChart } from './charts/namespace-chart';
import { NetworkPolicyChart } from './charts/network-policy-chart';
import { ObjectStoreChart } from './charts/object-store-chart';
import { PlaneChart } from './charts/plane-chart';
import { PostgresChart } from './charts/postgres-chart';
import { RabbitmqChart } from './charts/rabbitmq-chart';
import { RedisChart } from './charts/redis-chart';
import { SiteConfig } from './lib/config/site-config';
import { workloadLabels } from './lib/site';

export function buildStack(app: App, site: SiteConfig): void {
  const namespace = new NamespaceChart(app, 'namespace', {
    name: site.kubernetes.namespace,
    holdsData: true,
    labels: workloadLabels(site, 'namespace', 'namespace', site.images.plane.tag).all,
  });
  const inNamespace = { site, namespace: namespace.name };

  const postgres = new PostgresChart(app, 'postgres', inNamespace);
  const redis = new RedisChart(app, 'redis', inNamespace);
  const rabbitmq = new RabbitmqChart(app, 'rabbitmq', inNamespace);
  const objectStore = new ObjectStoreChart(app, 'object-store', inNamespace);

  const connections = {
    postgres: postgres.connection,
    redis: redis.connection,
    rabbitmq: rabbitmq.connection,
    objectStore: objectStore.connection,
  };
  const plane = new PlaneChart(app, 'plane', { ...inNamespace, connections });
  const networkPolicies = new NetworkPolicyChart(app, 'network-policies', { site, plane, data: connections });

  // Files are numbered in this order: `kubectl apply -f dist` creates the namespace, then the
  // policies (so no pod ever runs unguarded), then the workloads.
  const inOrder: Chart[] = [namespace, networkPolicies, postgres, redis, rabbitmq, objectStore, plane];
  inOrder.slice(1).forEach((chart, index) => chart.addDependency(inOrder[index]));
}
