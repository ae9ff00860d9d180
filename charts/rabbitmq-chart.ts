import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { AmqpConnection } from '../lib/connections';
import { Rabbitmq } from '../lib/data/rabbitmq';
import { toResourceRequirements } from '../lib/resources';
import { imageVersion, objectName, workloadLabels } from '../lib/site';

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
      namespace: props.namespace,
      name: objectName('rabbitmq'),
      labels: workloadLabels(site, 'rabbitmq', 'data', imageVersion(site.images.rabbitmq)),
      image: site.images.rabbitmq,
      user: settings.user,
      vhost: settings.vhost,
      storage: settings.storage,
      storageClass: site.kubernetes.storageClass,
      resources: toResourceRequirements(settings.resources),
    }).connection;
  }
}
