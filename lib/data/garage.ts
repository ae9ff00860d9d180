import { Construct } from 'constructs';
import { S3Connection } from '../connections';
import { DataServiceProps, DataStatefulSet } from '../constructs/data-stateful-set';
import { httpProbes } from '../probes';

/** `image`: a pinned dxflrs/garage image, v2.3.0 or later (--single-node --default-bucket; boto3 presigned POST). */
export interface GarageProps extends DataServiceProps {
  /** Bucket created at start and granted to the default key. */
  readonly bucket: string;
  /** S3 region; must equal the region clients sign with. */
  readonly region: string;
  /**
   * @default "plane-object-store", also the name of the Secret with keys "access-key-id",
   * "secret-access-key" and "rpc-secret"
   */
  readonly name?: string;
}

/** The image is FROM scratch with no user: any non-root id works, it only writes its volume. */
const GARAGE_USER = { user: 10001, group: 10001 };
const S3_PORT = 3900;
const RPC_PORT = 3901;
const ADMIN_PORT = 3903;
const DATA_PATH = '/var/lib/garage';

/**
 * Garage, a single-node S3-compatible store for Plane's uploads. It accepts path-style requests for
 * any Host (no root_domain), so requests signed for the public app host work through the proxy.
 */
export class Garage extends Construct {
  readonly connection: S3Connection;

  constructor(scope: Construct, id: string, props: GarageProps) {
    super(scope, id);
    const name = props.name ?? 'plane-object-store';
    const secret = (key: string) => ({ secretName: name, key });
    const accessKeyId = secret('access-key-id');
    const secretAccessKey = secret('secret-access-key');
    const config = [
      `metadata_dir = "${DATA_PATH}/meta"`,
      `data_dir = "${DATA_PATH}/data"`,
      'db_engine = "sqlite"',
      'replication_factor = 1',
      // A single node talks to nobody: keep its RPC port on loopback.
      `rpc_bind_addr = "127.0.0.1:${RPC_PORT}"`,
      `rpc_public_addr = "127.0.0.1:${RPC_PORT}"`,
      '',
      '[s3_api]',
      `s3_region = "${props.region}"`,
      `api_bind_addr = "0.0.0.0:${S3_PORT}"`,
      '',
      '[admin]',
      // Only /health answers without a token, and no admin token is configured.
      `api_bind_addr = "0.0.0.0:${ADMIN_PORT}"`,
      '',
    ].join('\n');

    const service = new DataStatefulSet(this, 'stateful-set', {
      namespace: props.namespace,
      name,
      labels: props.labels,
      image: props.image,
      runAs: GARAGE_USER,
      resources: props.resources,
      port: S3_PORT,
      portName: 's3',
      command: ['/garage', 'server', '--single-node', '--default-bucket'],
      env: { GARAGE_DEFAULT_BUCKET: props.bucket, RUST_LOG: 'garage=info' },
      // Environment, not mounted files: Garage refuses secret files readable by the group (fsGroup makes them so).
      secretEnv: {
        GARAGE_RPC_SECRET: secret('rpc-secret'),
        GARAGE_DEFAULT_ACCESS_KEY: accessKeyId,
        GARAGE_DEFAULT_SECRET_KEY: secretAccessKey,
      },
      files: { '/etc/garage.toml': config },
      probes: httpProbes('/health', ADMIN_PORT, 60),
      dataPath: DATA_PATH,
      storage: props.storage,
      storageClass: props.storageClass,
    });
    this.connection = {
      ...service.endpoint,
      endpointUrl: `http://${service.endpoint.host}:${S3_PORT}`,
      servedThroughEdge: true,
      region: props.region,
      bucket: props.bucket,
      accessKeyId,
      secretAccessKey,
      // Garage reads a key id as "GK" + 24 hex digits and an RPC secret as 32 bytes in hex.
      secretKeys: [
        { ref: accessKeyId, generate: 'garage-key-id' },
        { ref: secretAccessKey, generate: 'hex32' },
        { ref: secret('rpc-secret'), generate: 'hex32' },
      ],
    };
  }
}
