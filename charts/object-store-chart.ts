import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { S3Connection } from '../lib/connections';
import { inClusterProps } from '../lib/data/in-cluster';
import { Garage } from '../lib/data/garage';

export interface ObjectStoreChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
}

/** Plane's uploads bucket: in the cluster (Garage), or on an S3 service named by `data.objectStore.external`. */
export class ObjectStoreChart extends Chart {
  readonly connection: S3Connection;

  constructor(scope: Construct, id: string, props: ObjectStoreChartProps) {
    super(scope, id, props);
    const { site } = props;
    const settings = site.data.objectStore;
    if (settings.external) {
      const { credentialsSecret } = settings.external;
      const secret = (key: string) => ({ secretName: credentialsSecret, key });
      const endpoint = new URL(settings.external.endpoint);
      this.connection = {
        host: endpoint.hostname,
        port: Number(endpoint.port || 443),
        peer: { name: 'object-store', cidrs: settings.external.cidrs },
        endpointUrl: settings.external.endpoint,
        servedThroughEdge: false,
        region: settings.region,
        bucket: site.plane.bucket,
        accessKeyId: secret('access-key-id'),
        secretAccessKey: secret('secret-access-key'),
        // The operator's credentials of that service: nothing to generate.
        secretKeys: [],
      };
      return;
    }
    this.connection = new Garage(this, 'garage', {
      ...inClusterProps(site, props.namespace, 'object-store', site.images.objectStore, settings),
      bucket: site.plane.bucket,
      region: settings.region,
    }).connection;
  }
}
