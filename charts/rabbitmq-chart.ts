import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { AmqpConnection } from '../lib/connections';
import { inClusterProps } from '../lib/data/in-cluster';
import { Rabbitmq } from '../lib/data/rabbitmq';

export interface RabbitmqChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
}

/** Plane's Celery broker, in the cluster. */
export class RabbitmqChart extends Chart {
  readonly connection: AmqpConnection;

  constructor(scope: Construct, id: string, props: RabbitmqChartProps) {
    super(scope, id, props);
    const { site } = props;
    const settings = site.data.rabbitmq;
    this.connection = new Rabbitmq(this, 'rabbitmq', {
      ...inClusterProps(site, props.namespace, 'rabbitmq', site.images.rabbitmq, settings),
      user: settings.user,
      vhost: settings.vhost,
    }).connection;
  }
}
