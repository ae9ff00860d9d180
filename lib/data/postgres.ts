import { Construct } from 'constructs';
import { PostgresConnection, SecretKeyRef } from '../connections';
import { DataServiceProps, DataStatefulSet } from '../constructs/data-stateful-set';
import { execProbes } from '../probes';

/** `image`: a pinned postgres 18 alpine image (uid 70). */
export interface PostgresProps extends DataServiceProps {
  readonly database: string;
  readonly user: string;
  /** @default "plane-postgres" */
  readonly name?: string;
  /** @default key "password" of a Secret named like the service */
  readonly password?: SecretKeyRef;
}

/** The alpine image's postgres user; also what its client tools run as in the backup and bootstrap Jobs. */
export const POSTGRES_ALPINE_USER = { user: 70, group: 70 };
const PORT = 5432;
/** Mount the volume at the parent of PGDATA: postgres 18's entrypoint refuses a volume at .../data. */
const VOLUME_PATH = '/var/lib/postgresql';
const PGDATA = '/var/lib/postgresql/18/docker';

/** In-cluster PostgreSQL 18, one replica on a persistent volume. */
export class Postgres extends Construct {
  readonly connection: PostgresConnection;

  constructor(scope: Construct, id: string, props: PostgresProps) {
    super(scope, id);
    const name = props.name ?? 'plane-postgres';
    const password = props.password ?? { secretName: name, key: 'password' };
    const service = new DataStatefulSet(this, 'stateful-set', {
      namespace: props.namespace,
      name,
      labels: props.labels,
      image: props.image,
      runAs: POSTGRES_ALPINE_USER,
      resources: props.resources,
      port: PORT,
      portName: 'postgres',
      env: { POSTGRES_DB: props.database, POSTGRES_USER: props.user, PGDATA },
      secretEnv: { POSTGRES_PASSWORD: password },
      // initdb on a new volume takes a while on a slow disk: give the first start 5 minutes.
      probes: execProbes(
        ['pg_isready', '--host=127.0.0.1', `--port=${PORT}`, `--username=${props.user}`, `--dbname=${props.database}`],
        300,
      ),
      dataPath: VOLUME_PATH,
      storage: props.storage,
      storageClass: props.storageClass,
      writablePaths: ['/var/run/postgresql', '/tmp'],
      // A clean shutdown writes a checkpoint; give it time before SIGKILL.
      terminationGracePeriodSeconds: 120,
    });
    this.connection = {
      ...service.endpoint,
      database: props.database,
      user: props.user,
      password,
      secretKeys: [{ ref: password, generate: 'hex24' }],
    };
  }
}
