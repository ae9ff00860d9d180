import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { PostgresConnection } from '../lib/connections';
import { Postgres } from '../lib/data/postgres';
import { imageVersion, objectName, workloadLabels } from '../lib/site';
import { toResourceRequirements } from '../lib/resources';

export interface PostgresChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
}

/** Plane's database, in the cluster. */
export class PostgresChart extends Chart {
  readonly connection: PostgresConnection;

  constructor(scope: Construct, id: string, props: PostgresChartProps) {
    super(scope, id, props);
    const { site } = props;
    const settings = site.data.postgres;
    this.connection = new Postgres(this, 'postgres', {
      namespace: props.namespace,
      name: objectName('postgres'),
      labels: workloadLabels(site, 'postgres', 'data', imageVersion(site.images.postgres)),
      image: site.images.postgres,
      database: settings.database,
      user: settings.user,
      storage: settings.storage,
      storageClass: site.kubernetes.storageClass,
      resources: toResourceRequirements(settings.resources),
    }).connection;
  }
}
