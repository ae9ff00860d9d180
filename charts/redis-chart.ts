import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { RedisConnection } from '../lib/connections';
import { ExternalService } from '../lib/constructs/external-service';
import { inClusterProps } from '../lib/data/in-cluster';
import { Valkey } from '../lib/data/valkey';
import { objectName, workloadLabels } from '../lib/site';

export interface RedisChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
}

/**
 * Plane's cache and the live server's pub/sub: in the cluster, or a shared server named by
 * `data.redis.external` (Plane then uses its database `plane.redisDb`).
 */
export class RedisChart extends Chart {
  readonly connection: RedisConnection;

  constructor(scope: Construct, id: string, props: RedisChartProps) {
    super(scope, id, props);
    const { site } = props;
    const settings = site.data.redis;
    const name = objectName('redis');
    const password = { secretName: name, key: 'password' };

    if (settings.external) {
      const external = new ExternalService(this, 'external', {
        namespace: props.namespace,
        name,
        labels: workloadLabels(site, 'redis', 'data', 'external'),
        address: settings.external.address,
        port: settings.external.port,
        portName: 'redis',
      });
      this.connection = { ...external.endpoint, password, secretKeys: [{ ref: password, generate: 'hex24' }] };
      return;
    }
    this.connection = new Valkey(this, 'valkey', {
      ...inClusterProps(site, props.namespace, 'redis', site.images.redis, settings),
      password,
      maxMemory: settings.maxMemory,
    }).connection;
  }
}
