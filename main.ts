/**
 * Wiring only: which charts make the stack and what each passes to the next.
 * `npx cdk8s synth` (or `npm run synth`) runs this file; SITE_CONFIG selects another site file.
 */
import { App, Chart } from 'cdk8s';
import { EdgeChart } from './charts/edge-chart';
import { EdgeDnsChart } from './charts/edge-dns-chart';
import { NamespaceChart } from './charts/namespace-chart';
import { ObjectStoreChart } from './charts/object-store-chart';
import { PlaneChart } from './charts/plane-chart';
import { PostgresChart } from './charts/postgres-chart';
import { RabbitmqChart } from './charts/rabbitmq-chart';
import { RedisChart } from './charts/redis-chart';
import { SiteConfig } from './lib/config/site-config';
import { servedEndpoint } from './lib/constructs/app-deployment';
import { edgePodSecurity } from './lib/edge/edge-site';
import { HEADSCALE_RECORDS_FILE, headscaleExtraRecords, splitDnsRecords } from './lib/edge/split-dns';
import { runSynth, SideFiles } from './lib/synth';

export function buildStack(app: App, site: SiteConfig): void {
  const namespace = new NamespaceChart(app, 'namespace', { name: site.kubernetes.namespace });
  const inNamespace = { site, namespace: namespace.name };

  const postgres = new PostgresChart(app, 'postgres', inNamespace);
  const redis = new RedisChart(app, 'redis', inNamespace);
  const rabbitmq = new RabbitmqChart(app, 'rabbitmq', inNamespace);
  const objectStore = new ObjectStoreChart(app, 'object-store', inNamespace);

  const plane = new PlaneChart(app, 'plane', {
    ...inNamespace,
    connections: {
      postgres: postgres.connection,
      redis: redis.connection,
      rabbitmq: rabbitmq.connection,
      objectStore: objectStore.connection,
    },
  });

  // Caddy has its own namespace: its exposure may need a looser Pod Security level than Plane's.
  const edgeNamespace = new NamespaceChart(app, 'edge-namespace', { name: site.edge.namespace, ...edgePodSecurity(site.edge) });
  const edge = new EdgeChart(app, 'edge', {
    site,
    namespace: edgeNamespace.name,
    upstreams: {
      web: servedEndpoint(plane.web),
      space: servedEndpoint(plane.space),
      admin: servedEndpoint(plane.admin),
      live: servedEndpoint(plane.live),
      api: servedEndpoint(plane.api),
      objectStore: objectStore.connection,
    },
  });
  const edgeDns = site.edge.splitDns.coreDnsOverride
    ? [new EdgeDnsChart(app, 'edge-dns', { site, caddy: edge.caddy.endpoint })]
    : [];

  // Files are numbered in this order, so `kubectl apply -f dist` creates each namespace before its objects.
  const inOrder: Chart[] = [namespace, postgres, redis, rabbitmq, objectStore, plane, edgeNamespace, edge, ...edgeDns];
  inOrder.slice(1).forEach((chart, index) => chart.addDependency(inOrder[index]));
}

/** Written beside dist/: the VPN resolver's record for the app host (Headscale extra records). */
export const sideFiles: SideFiles = (site) => ({
  [HEADSCALE_RECORDS_FILE]: headscaleExtraRecords(splitDnsRecords(site)),
});

if (require.main === module) {
  runSynth(buildStack, sideFiles);
}
