import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { RedisConnection } from '../lib/connections';
import { Valkey } from '../lib/data/valkey';
import { toResourceRequirements } from '../lib/resources';
import { imageVersion, objectName, workloadLabels } from '../lib/site';

export interface RedisChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
}

/** Plane's cache and the live server's pub/sub, in the cluster. */
export class RedisChart extends Chart {
  readonly connection: RedisConnection;

  constructor(scope: Construct, id: string, props: RedisChartProps) {
    super(scope, id, props);
    const { site } = props;
    const settings = site.data.redis;
    this.connection = new Valkey(this, 'valkey', {
      namespace: props.namespace,
      name: objectName('redis'),
      labels: workloadLabels(site, 'redis', 'data', imageVersion(site.images.redis)),
      image: site.images.redis,
      maxMemory: settings.maxMemory,
      storage: settings.storage,
      storageClass: site.kubernetes.storageClass,
      resources: toResourceRequirements(settings.resources),
    }).connection;
  }
}
