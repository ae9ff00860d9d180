import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { PostgresConnection } from '../connections';
import { VersionedJob } from '../constructs/versioned-job';
import { WorkloadLabels } from '../labels';
import { callTo } from '../stack/workload';
import { mountedScripts, SCRIPTS_PATH } from '../scripts';
import { POSTGRES_ALPINE_USER } from './postgres';

export interface PostgresBootstrapProps {
  readonly namespace: string;
  readonly labels: WorkloadLabels;
  /** The shared server as Plane reaches it (host, port, database, user, the stack's password Secret). */
  readonly connection: PostgresConnection;
  /** Secret of the operator's with keys "username" and "password" of an admin of the shared server. */
  readonly adminSecret: string;
  /** A pinned postgres image (psql of the server's major or newer). */
  readonly image: string;
  readonly resources: k8s.ResourceRequirements;
  /** @default "plane-postgres-bootstrap" */
  readonly name?: string;
}

const SCRIPT = 'bootstrap-postgres.sh';

/**
 * Plane's role and database on a shared PostgreSQL server (the seed's setup): a Job that creates them
 * if absent, with the stack's password, and converges that password on a re-run; it never drops or
 * alters anything else (lib/data/postgres/bootstrap-postgres.sh). Plane's migrator waits for the
 * database (wait_for_db) until it can log in.
 */
export class PostgresBootstrap extends Construct {
  readonly job: VersionedJob;

  constructor(scope: Construct, id: string, props: PostgresBootstrapProps) {
    super(scope, id);
    const { connection } = props;
    const admin = (key: string) => ({ secretName: props.adminSecret, key });
    this.job = new VersionedJob(this, 'job', {
      namespace: props.namespace,
      baseName: props.name ?? 'plane-postgres-bootstrap',
      version: props.labels.all['app.kubernetes.io/version'],
      labels: props.labels,
      image: props.image,
      runAs: POSTGRES_ALPINE_USER,
      resources: props.resources,
      rerunOnConfigChange: true,
      env: {
        PGHOST: connection.host,
        PGPORT: String(connection.port),
        PLANE_USER: connection.user,
        PLANE_DATABASE: connection.database,
      },
      secretEnv: {
        ADMIN_USER: admin('username'),
        ADMIN_PASSWORD: admin('password'),
        PLANE_PASSWORD: connection.password,
      },
      files: mountedScripts('lib/data/postgres', [SCRIPT]),
      command: ['sh', `${SCRIPTS_PATH}/${SCRIPT}`],
      writablePaths: ['/tmp'],
      calls: [callTo(connection)],
    });
  }
}
