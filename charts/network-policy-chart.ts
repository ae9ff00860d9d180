import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { ServiceEndpoint } from '../lib/connections';
import { ComponentNetworkPolicy } from '../lib/network/component-network-policy';
import { NamespaceBaselinePolicies } from '../lib/network/namespace-baseline-policies';
import { AddressPeer, Flow, isPodPeer, peerKey, PodPeer, PortSpec } from '../lib/network/peers';
import { PlaneConnections } from '../lib/plane/plane-env';
import { workloadLabels } from '../lib/site';
import { PlaneChart } from './plane-chart';

/** The edge proxy, as the policies need it. */
export interface EdgePeer {
  readonly peer: PodPeer;
  /** Ports clients connect to on the proxy pods (HTTP and HTTPS). */
  readonly ports: readonly PortSpec[];
  /** Port in-cluster clients use to reach the public host through the proxy (HTTPS). */
  readonly httpsPort: number;
}

export interface NetworkPolicyChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly plane: PlaneChart;
  readonly data: PlaneConnections;
  /** @default no edge proxy: nothing enters from outside the namespace */
  readonly edge?: EdgePeer;
  /** The Job that creates Secrets through the API server. @default none */
  readonly secretsBootstrap?: PodPeer;
  /** The Job that applies the deletion guard through the API server. @default none */
  readonly keepDataGuard?: PodPeer;
  /** The Job that makes Plane's role and database on a shared PostgreSQL. @default none */
  readonly postgresBootstrap?: PodPeer;
  /** The backup and restore Jobs (the drill reaches nothing: its server is in its pod). @default none */
  readonly backups?: { readonly backupPeer: PodPeer; readonly restorePeer: PodPeer; readonly drillPeer: PodPeer };
}

const tcp = (endpoint: ServiceEndpoint): PortSpec[] => [{ port: endpoint.port }];

/**
 * The seed's frontend/backend/egress networks as NetworkPolicies: default deny in every namespace of
 * the stack, DNS for all pods, then one policy per component listing exactly the flows of the design's
 * network matrix (network/expected-connections.yaml is the same intent, checked by an analyzer).
 */
export class NetworkPolicyChart extends Chart {
  /** Every allowed flow, for documentation and tests. */
  readonly flows: readonly Flow[];

  constructor(scope: Construct, id: string, props: NetworkPolicyChartProps) {
    super(scope, id, props);
    const { site, plane, data, edge, secretsBootstrap, keepDataGuard, backups, postgresBootstrap } = props;
    const [web, space, admin, live, api] = [plane.web, plane.space, plane.admin, plane.live, plane.api].map((c) => c.serviceEndpoint);
    const [worker, beatWorker, migrator, provisioning] = [plane.worker.peer, plane.beatWorker.peer, plane.migrator.peer, plane.provisioning.peer];
    const django = [api.peer, worker, beatWorker, migrator, provisioning];
    // Data services may be in-cluster pods or external addresses: their endpoints say which.
    const [postgres, redis, rabbitmq, objectStore] = [data.postgres, data.redis, data.rabbitmq, data.objectStore];

    const internet: AddressPeer = {
      name: 'internet',
      cidrs: ['0.0.0.0/0'],
      except: [...site.network.workerEgress.blockedCidrs, ...site.vps.addresses.map((a) => `${a}/32`)],
    };
    const flows: Flow[] = [
      { from: live.peer, to: api.peer, ports: tcp(api) },
      { from: live.peer, to: redis.peer, ports: tcp(redis) },
      { from: space.peer, to: api.peer, ports: tcp(api) },
      ...django.flatMap((from) => [postgres, redis, rabbitmq].map((to) => ({ from, to: to.peer, ports: tcp(to) }))),
      { from: api.peer, to: objectStore.peer, ports: tcp(objectStore) },
      { from: worker, to: objectStore.peer, ports: tcp(objectStore) },
      { from: worker, to: live.peer, ports: tcp(live) },
      { from: worker, to: internet, ports: site.network.workerEgress.ports.map((port) => ({ port })) },
    ];
    // Policies see the API server at the node's address after the kubernetes Service's DNAT.
    const apiServer: AddressPeer = { name: 'kube-apiserver', cidrs: site.vps.addresses.map((a) => `${a}/32`) };
    for (const client of [secretsBootstrap, keepDataGuard]) {
      if (client) flows.push({ from: client, to: apiServer, ports: [{ port: site.kubernetes.apiServerPort }] });
    }
    if (postgresBootstrap) flows.push({ from: postgresBootstrap, to: postgres.peer, ports: tcp(postgres) });
    if (backups) {
      flows.push(
        { from: backups.backupPeer, to: postgres.peer, ports: tcp(postgres) },
        { from: backups.backupPeer, to: objectStore.peer, ports: tcp(objectStore) },
        { from: backups.restorePeer, to: postgres.peer, ports: tcp(postgres) },
        { from: backups.restorePeer, to: objectStore.peer, ports: tcp(objectStore) },
      );
      const offsite = site.backup.offsite;
      if (offsite) flows.push({ from: backups.backupPeer, to: { name: 'offsite-backup', cidrs: offsite.cidrs }, ports: [{ port: 443 }] });
    }
    if (edge) {
      const clients: AddressPeer[] = [
        { name: 'vpn', cidrs: site.network.vpnCidrs },
        { name: 'pods', cidrs: [site.kubernetes.podCidr] },
      ];
      flows.push(
        ...clients.map((from) => ({ from, to: edge.peer, ports: edge.ports })),
        ...[web, space, admin, live, api].map((to) => ({ from: edge.peer, to: to.peer, ports: tcp(to) })),
      );
      if (objectStore.servedThroughEdge) {
        flows.push(
          { from: edge.peer, to: objectStore.peer, ports: tcp(objectStore) },
          // Plane signs some S3 calls for the public host; the api makes them through the proxy.
          { from: api.peer, to: edge.peer, ports: [{ port: edge.httpsPort }] },
        );
      }
    }
    this.flows = flows;

    const components = [...new Map(flows.flatMap((f) => [f.from, f.to]).filter(isPodPeer).map((p) => [peerKey(p), p])).values()];
    const namespaces = [...new Set(components.map((c) => c.namespace))];
    const labels = (name: string) => workloadLabels(site, name, 'network-policy', site.images.plane.tag).all;
    for (const namespace of namespaces) {
      new NamespaceBaselinePolicies(this, `baseline-${namespace}`, { namespace, dns: site.network.clusterDns, labels: labels('network-baseline') });
    }
    for (const component of components) {
      new ComponentNetworkPolicy(this, peerKey(component), { component, flows, labels: labels(component.podSelector['app.kubernetes.io/name'] ?? component.name) });
    }
    if (backups) {
      const drill = backups.drillPeer;
      new ComponentNetworkPolicy(this, peerKey(drill), { component: drill, flows, isolated: true, labels: labels(drill.podSelector['app.kubernetes.io/name'] ?? drill.name) });
    }
  }
}
