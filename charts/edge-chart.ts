import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { Caddy } from '../lib/edge/caddy';
import { renderCaddyfile } from '../lib/edge/caddyfile';
import { DNS_API_TOKEN_ENV, DNS_API_TOKEN_KEY, networkClientCidrs, siteCaddyfileOptions } from '../lib/edge/edge-site';
import { PlaneUpstreams } from '../lib/edge/plane-routes';
import { toResourceRequirements } from '../lib/resources';
import { imageVersion, workloadLabels } from '../lib/site';

export interface EdgeChartProps extends ChartProps {
  readonly site: SiteConfig;
  /** Caddy's own namespace (site.edge.namespace, created by its NamespaceChart). */
  readonly namespace: string;
  /** Plane's components and the object store, passed by reference from their charts. */
  readonly upstreams: PlaneUpstreams;
}

/** Caddy in front of Plane: VPN-only, Plane's routing, TLS (README, "The edge"). */
export class EdgeChart extends Chart {
  readonly caddy: Caddy;

  constructor(scope: Construct, id: string, props: EdgeChartProps) {
    super(scope, id, props);
    const { site, namespace } = props;
    const { edge } = site;
    const { tls } = edge;
    this.caddy = new Caddy(this, 'caddy', {
      namespace,
      labels: workloadLabels(site, 'caddy', 'edge', imageVersion(edge.caddy.image)),
      image: edge.caddy.image,
      resources: toResourceRequirements(edge.caddy.resources),
      caddyfile: renderCaddyfile(siteCaddyfileOptions(site, props.upstreams)),
      exposure: edge.exposure === 'hostPort'
        ? { kind: 'hostPort', hostIp: edge.vpnAddress, nodeName: site.vps.hostname }
        : { kind: 'loadBalancer', sourceRanges: edge.vpnEnforce ? networkClientCidrs(site) : undefined },
      tlsSecretName: tls.secretName,
      dataVolume: tls.storage ? { storage: tls.storage, storageClass: site.kubernetes.storageClass } : undefined,
      secretEnv: tls.acme
        ? { [DNS_API_TOKEN_ENV]: { secretName: tls.acme.apiTokenSecret, key: DNS_API_TOKEN_KEY } }
        : undefined,
    });
  }
}
