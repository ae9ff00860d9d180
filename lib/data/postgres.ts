import { Construct } from 'constructs';
import { PostgresConnection, SecretKeyRef } from '../connections';
import { DataServiceProps, DataStatefulSet } from '../constructs/data-stateful-set';
import { execProbes } from '../probes';
import { mountedScripts, scriptFile, SCRIPTS_PATH } from '../scripts';

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
/** The server's own client authentication: the superuser on the socket only, everyone else by password. */
export const PG_HBA_FILE = '/etc/postgresql/pg_hba.conf';
export const PG_HBA = [
  "# plane-k3s: the superuser logs in on the socket, inside the server's pod only; the rest by password.",
  'local all all trust',
  'host all postgres all reject',
  'host all all all scram-sha-256',
  '',
].join('\n');
/** The image's superuser (POSTGRES_USER); Plane's role is another, a non-superuser owning its database. */
export const POSTGRES_SUPERUSER = 'postgres';
/** Run by the image's entrypoint on a new volume (its initdb hook), and by ensure-roles.sh on an existing one. */
const ROLES_SQL = '/docker-entrypoint-initdb.d/plane-k3s-roles.sql';

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
      // The seed's one PostgreSQL password is Plane's role's; the superuser has none (PG_HBA).
      env: {
        POSTGRES_DB: props.database,
        POSTGRES_USER: POSTGRES_SUPERUSER,
        PLANE_USER: props.user,
        PGDATA,
        PLANE_K3S_HBA_FILE: PG_HBA_FILE,
      },
      secretEnv: { POSTGRES_PASSWORD: password },
      files: {
        ...mountedScripts('lib/data/postgres', ['ensure-roles.sh']),
        [ROLES_SQL]: scriptFile('lib/data/postgres', 'plane-k3s-roles.sql'),
        [PG_HBA_FILE]: PG_HBA,
      },
      // Plane's role is made a non-superuser owner first (an existing volume), then the image's entrypoint runs.
      command: ['sh', `${SCRIPTS_PATH}/ensure-roles.sh`, 'docker-entrypoint.sh'],
      args: ['postgres', '-c', `hba_file=${PG_HBA_FILE}`],
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
