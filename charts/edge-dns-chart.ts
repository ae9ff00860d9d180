import { Chart, ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { ServiceEndpoint } from '../lib/connections';
import { COREDNS_CUSTOM_CONFIGMAP, COREDNS_NAMESPACE, coreDnsOverride } from '../lib/edge/split-dns';
import { appHost, imageVersion, objectName, workloadLabels } from '../lib/site';

export interface EdgeDnsChartProps extends ChartProps {
  readonly site: SiteConfig;
  /** Caddy's Service, which in-cluster clients of the app host are sent to. */
  readonly caddy: ServiceEndpoint;
}

/**
 * In-cluster split DNS: k3s' optional ConfigMap coredns-custom in kube-system, in its own file since
 * it is the stack's only object outside its namespaces. It replaces a coredns-custom of your own:
 * merge the key by hand and set edge.splitDns.coreDnsOverride to false in that case (docs/configuration.md "The edge").
 */
export class EdgeDnsChart extends Chart {
  constructor(scope: Construct, id: string, props: EdgeDnsChartProps) {
    super(scope, id, props);
    const { site } = props;
    const labels = workloadLabels(site, 'split-dns', 'edge', imageVersion(site.edge.caddy.image));
    new k8s.KubeConfigMap(this, 'coredns-custom', {
      metadata: { name: COREDNS_CUSTOM_CONFIGMAP, namespace: COREDNS_NAMESPACE, labels: { ...labels.all } },
      data: {
        // k3s imports /etc/coredns/custom/*.override into its main server block.
        [`${site.project.name}-${objectName('edge')}.override`]: coreDnsOverride(
          appHost(site),
          `${props.caddy.host}.${site.kubernetes.clusterDomain}`,
        ),
      },
    });
  }
}
