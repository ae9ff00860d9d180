import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { ServiceEndpoint } from '../lib/connections';
import { priorityClassName } from '../lib/constructs/priority-classes';
import { Caddy } from '../lib/edge/caddy';
import { renderCaddyfile } from '../lib/edge/caddyfile';
import { auditLogStorage, DNS_API_TOKEN_ENV, DNS_API_TOKEN_KEY, networkClientCidrs, siteCaddyfileOptions } from '../lib/edge/edge-site';
import { PlaneUpstreams } from '../lib/edge/plane-routes';
import { PodPeer } from '../lib/network/peers';
import { toResourceRequirements } from '../lib/resources';
import { imageVersion, workloadLabels } from '../lib/site';

/** Plane's Services the edge forwards to (the routes of PlaneUpstreams), with the pods behind them. */
export interface EdgeUpstreams extends PlaneUpstreams {
  readonly web: ServiceEndpoint;
  readonly space: ServiceEndpoint;
  readonly admin: ServiceEndpoint;
  readonly live: ServiceEndpoint;
  readonly api: ServiceEndpoint;
  /** Served at https://<app host>/<bucket>/ only when it is Garage in the cluster. @default not routed */
  readonly objectStore?: ServiceEndpoint;
}

export interface EdgeChartProps extends ChartProps {
  readonly site: SiteConfig;
  /** Caddy's own namespace (site.edge.namespace, created by its NamespaceChart). */
  readonly namespace: string;
  /** Plane's components and the object store, passed by reference from their charts. */
  readonly upstreams: EdgeUpstreams;
  /** Pods that reach the public host through the edge (HTTPS), e.g. the api's S3 calls. @default none */
  readonly publicHostClients?: readonly PodPeer[];
}

/** Caddy in front of Plane: VPN-only, Plane's routing, TLS (docs/configuration.md "The edge"). */
export class EdgeChart extends Chart {
  readonly caddy: Caddy;

  constructor(scope: Construct, id: string, props: EdgeChartProps) {
    super(scope, id, props);
    const { site, namespace, upstreams } = props;
    const { edge } = site;
    const { tls } = edge;
    const caddyfile = siteCaddyfileOptions(site, upstreams);
    this.caddy = new Caddy(this, 'caddy', {
      namespace,
      labels: workloadLabels(site, 'caddy', 'edge', imageVersion(edge.caddy.image)),
      image: edge.caddy.image,
      resources: toResourceRequirements(edge.caddy.resources),
      caddyfile: renderCaddyfile(caddyfile),
      exposure:
        edge.exposure === 'hostPort'
          ? { kind: 'hostPort', hostIp: edge.vpnAddress, nodeName: site.vps.hostname }
          : { kind: 'loadBalancer', sourceRanges: edge.vpnEnforce ? networkClientCidrs(site) : undefined },
      tlsSecretName: tls.secretName,
      dataVolume: tls.storage ? { storage: tls.storage, storageClass: site.kubernetes.storageClass } : undefined,
      auditLog: { file: caddyfile.auditLog.file, storage: auditLogStorage(edge.auditLog), storageClass: site.kubernetes.storageClass },
      secretEnv: tls.acme ? { [DNS_API_TOKEN_ENV]: { secretName: tls.acme.apiTokenSecret, key: DNS_API_TOKEN_KEY } } : undefined,
      upstreams: [
        upstreams.web,
        upstreams.space,
        upstreams.admin,
        upstreams.live,
        upstreams.api,
        ...(upstreams.objectStore ? [upstreams.objectStore] : []),
      ],
      // No pod range: in-cluster clients are named pods (publicHostClients).
      clients: [{ name: 'vpn', cidrs: site.network.vpnCidrs }],
      httpsClients: props.publicHostClients,
      // The request path: evicted after the frontends and workers, before the data (Caddy's namespace is
      // not the stack's, whose name the classes carry).
      priorityClassName: priorityClassName(site.kubernetes.namespace, 'serving'),
    });
  }
}
