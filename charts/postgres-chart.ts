import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { PostgresConnection } from '../lib/connections';
import { ExternalService } from '../lib/constructs/external-service';
import { inClusterProps } from '../lib/data/in-cluster';
import { Postgres } from '../lib/data/postgres';
import { PostgresBootstrap } from '../lib/data/postgres-bootstrap';
import { toResourceRequirements } from '../lib/resources';
import { imageVersion, objectName, workloadLabels } from '../lib/site';

export interface PostgresChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
}

/** Plane's database: in the cluster, or a shared server named by `data.postgres.external`. */
export class PostgresChart extends Chart {
  readonly connection: PostgresConnection;
  /** With a shared server and its admin Secret: the Job that makes Plane's role and database there. */
  readonly bootstrap?: PostgresBootstrap;

  constructor(scope: Construct, id: string, props: PostgresChartProps) {
    super(scope, id, props);
    const { site } = props;
    const settings = site.data.postgres;
    const name = objectName('postgres');
    // The seed's rule (REX #41): one PostgreSQL password, in this Secret whichever server is used. The
    // bootstrap Job generates it unless it exists: for a shared server, create it with the shared
    // password before the first apply (docs/configuration.md "Secrets").
    const password = { secretName: name, key: 'password' };
    const common = {
      database: settings.database,
      user: settings.user,
      password,
      secretKeys: [{ ref: password, generate: 'hex24' as const }],
    };

    if (settings.external) {
      const external = new ExternalService(this, 'external', {
        namespace: props.namespace,
        name,
        labels: workloadLabels(site, 'postgres', 'data', 'external'),
        address: settings.external.address,
        port: settings.external.port,
        portName: 'postgres',
      });
      this.connection = { ...external.endpoint, ...common };
      if (settings.external.adminSecret) {
        this.bootstrap = new PostgresBootstrap(this, 'bootstrap', {
          namespace: props.namespace,
          labels: workloadLabels(site, 'postgres-bootstrap', 'data', imageVersion(site.images.postgres)),
          connection: this.connection,
          adminSecret: settings.external.adminSecret,
          image: site.images.postgres,
          resources: toResourceRequirements(site.components.postgresBootstrap.resources),
        });
      }
      return;
    }
    this.connection = new Postgres(this, 'postgres', {
      ...common,
      ...inClusterProps(site, props.namespace, 'postgres', site.images.postgres, settings),
    }).connection;
  }
}
