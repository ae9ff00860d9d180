import { Construct } from 'constructs';
import { RedisConnection, SecretKeyRef } from '../connections';
import { DataServiceProps, DataStatefulSet } from '../constructs/data-stateful-set';
import { execProbes } from '../probes';

/** `image`: a pinned valkey/valkey alpine image (uid 999, gid 1000). */
export interface ValkeyProps extends DataServiceProps {
  /** Redis memory cap, e.g. "128mb"; keep it below the container memory limit. */
  readonly maxMemory: string;
  /** @default "plane-redis" */
  readonly name?: string;
  /** @default key "password" of a Secret named like the service */
  readonly password?: SecretKeyRef;
}

/** valkey/valkey alpine: user valkey 999, group valkey 1000. */
const VALKEY_ALPINE_USER = { user: 999, group: 1000 };
const PORT = 6379;
const DATA_PATH = '/data';

/** In-cluster Valkey (Redis-compatible, BSD licence): Plane's cache and the live server's pub/sub. */
export class Valkey extends Construct {
  readonly connection: RedisConnection;

  constructor(scope: Construct, id: string, props: ValkeyProps) {
    super(scope, id);
    const name = props.name ?? 'plane-redis';
    const password = props.password ?? { secretName: name, key: 'password' };
    const service = new DataStatefulSet(this, 'stateful-set', {
      namespace: props.namespace,
      name,
      labels: props.labels,
      image: props.image,
      runAs: VALKEY_ALPINE_USER,
      resources: props.resources,
      port: PORT,
      portName: 'redis',
      // valkey-cli reads REDISCLI_AUTH: the probe passes no password in its argv.
      secretEnv: { REDIS_PASSWORD: password, REDISCLI_AUTH: password },
      // A cache, not a store (Plane keeps sessions in PostgreSQL): no snapshot and no append-only file,
      // so nothing it holds (Plane's throttle keys on raw API tokens) is ever written to the volume,
      // and the files an earlier version saved there are removed at start.
      command: [
        'sh',
        '-c',
        `rm -rf ${DATA_PATH}/dump.rdb ${DATA_PATH}/appendonly.aof ${DATA_PATH}/appendonlydir && exec valkey-server "$@"`,
        'valkey-server',
      ],
      args: [
        '--port',
        String(PORT),
        '--dir',
        DATA_PATH,
        '--requirepass',
        '$(REDIS_PASSWORD)',
        '--maxmemory',
        props.maxMemory,
        // Plane stores cache entries and pub/sub there, nothing that cannot be evicted.
        '--maxmemory-policy',
        'allkeys-lru',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      probes: execProbes(['sh', '-c', 'valkey-cli --no-auth-warning ping | grep -q PONG'], 60),
      dataPath: DATA_PATH,
      storage: props.storage,
      storageClass: props.storageClass,
    });
    this.connection = { ...service.endpoint, password, secretKeys: [{ ref: password, generate: 'hex24' }] };
  }
}
