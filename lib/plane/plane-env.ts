/**
 * Plane's environment, built from the site config and the data services' connections. Secrets are
 * referenced, never copied: URLs that need a password compose it in the pod with $(VAR).
 */
import { planeRelease } from '../config/plane-releases';
import { SiteConfig } from '../config/site-config';
import { AmqpConnection, PostgresConnection, RedisConnection, S3Connection, SecretKeyRef, ServiceEndpoint } from '../connections';
import { Call, callTo } from '../stack/workload';
import { appHost, appUrl } from '../site';
import { BASE_PATHS } from './images';

export interface PlaneConnections {
  readonly postgres: PostgresConnection;
  readonly redis: RedisConnection;
  readonly rabbitmq: AmqpConnection;
  readonly objectStore: S3Connection;
}

/** Names of the Secret keys the app itself needs (the data services bring their own). */
export interface PlaneSecrets {
  readonly secretKey: SecretKeyRef;
  readonly liveServerSecretKey: SecretKeyRef;
}

export interface EnvParts {
  readonly env: Record<string, string>;
  readonly secretEnv: Record<string, SecretKeyRef>;
  readonly derivedEnv: Record<string, string>;
  /** The services these URLs point at, which every process with this environment calls. */
  readonly calls: Call[];
}

/** Where Plane's OpenTelemetry exporter sends traces: nowhere (nothing listens on loopback). */
export const TELEMETRY_SINK = 'http://127.0.0.1:4317';

/** Plane's instance settings (InstanceConfiguration rows) that make the instance as private as the site says. */
export function instanceSettings(site: SiteConfig): Record<string, string> {
  return {
    ENABLE_SIGNUP: site.plane.access.signUp ? '1' : '0',
    DISABLE_WORKSPACE_CREATION: site.plane.access.workspaceCreationByMembers ? '0' : '1',
    // Off, whatever god-mode was set to: v1.2.2's magic-code login has no attempt limit (CVE-2026-105638).
    ENABLE_MAGIC_LINK_LOGIN: '0',
    // Intercom's chat widget (third-party script in the browser): off with telemetry, as Plane's admin screen
    // does; only in the releases that have it (a setting nothing reads would be dead configuration).
    ...(planeRelease(site.images.plane.tag).intercom ? { IS_INTERCOM_ENABLED: site.plane.access.telemetry ? '1' : '0' } : {}),
  };
}

function redisUrl(redis: RedisConnection, db: number): string {
  return `redis://:$(REDIS_PASSWORD)@${redis.host}:${redis.port}/${db}`;
}

/**
 * Environment of every Django process: api, worker, beat-worker, migrator. `liveUrl` is the live
 * server's in-cluster URL: only a background task (copy_s3_object) calls it, from the worker.
 */
export function backendEnv(site: SiteConfig, c: PlaneConnections, secrets: PlaneSecrets, apiHosts: string[], liveUrl: string): EnvParts {
  const url = appUrl(site);
  return {
    env: {
      DEBUG: '0',
      APP_VERSION: site.images.plane.tag,
      ALLOWED_HOSTS: [appHost(site), ...apiHosts].join(','),
      // Also CSRF trusted origins; all-https origins make Plane set secure cookies.
      CORS_ALLOWED_ORIGINS: url,
      WEB_URL: url,
      APP_BASE_URL: url,
      ADMIN_BASE_URL: url,
      SPACE_BASE_URL: url,
      LIVE_BASE_URL: liveUrl,
      ADMIN_BASE_PATH: BASE_PATHS.admin,
      SPACE_BASE_PATH: BASE_PATHS.space,
      LIVE_BASE_PATH: BASE_PATHS.live,
      AWS_REGION: c.objectStore.region,
      AWS_S3_ENDPOINT_URL: c.objectStore.endpointUrl,
      AWS_S3_BUCKET_NAME: c.objectStore.bucket,
      // USE_MINIO=1: Plane signs browser uploads and downloads for the public https host (the edge routes
      // the bucket's path to the store); 0: for the store's own endpoint, which browsers reach directly.
      ...(c.objectStore.servedThroughEdge ? { USE_MINIO: '1', MINIO_ENDPOINT_SSL: '1' } : { USE_MINIO: '0' }),
      FILE_SIZE_LIMIT: String(site.plane.fileSizeLimit),
      API_KEY_RATE_LIMIT: site.plane.apiKeyRateLimit,
      // Read once, when configure_instance first creates these settings; the provisioning Job keeps
      // them as the site says afterwards (Plane's defaults open both).
      ...instanceSettings(site),
      // Plane's trace exporter defaults to https://telemetry.plane.so, reachable through the worker's
      // internet egress: pointed at loopback, nothing leaves even if telemetry is switched on in god-mode.
      OTLP_ENDPOINT: TELEMETRY_SINK,
    },
    secretEnv: {
      SECRET_KEY: secrets.secretKey,
      POSTGRES_PASSWORD: c.postgres.password,
      REDIS_PASSWORD: c.redis.password,
      RABBITMQ_PASSWORD: c.rabbitmq.password,
      AWS_ACCESS_KEY_ID: c.objectStore.accessKeyId,
      AWS_SECRET_ACCESS_KEY: c.objectStore.secretAccessKey,
    },
    derivedEnv: {
      DATABASE_URL: `postgresql://${c.postgres.user}:$(POSTGRES_PASSWORD)@${c.postgres.host}:${c.postgres.port}/${c.postgres.database}`,
      REDIS_URL: redisUrl(c.redis, site.plane.redisDb),
      AMQP_URL: `amqp://${c.rabbitmq.user}:$(RABBITMQ_PASSWORD)@${c.rabbitmq.host}:${c.rabbitmq.port}/${c.rabbitmq.vhost}`,
    },
    // The object store too is configured for all, but only the api and the worker call it: they add it.
    calls: [callTo(c.postgres), callTo(c.redis), callTo(c.rabbitmq)],
  };
}

/** Environment of the live (collaboration) server. */
export function liveEnv(site: SiteConfig, redis: RedisConnection, api: ServiceEndpoint, secrets: PlaneSecrets): EnvParts {
  return {
    env: {
      API_BASE_URL: `http://${api.host}:${api.port}`,
      APP_VERSION: site.images.plane.tag,
      LIVE_BASE_PATH: BASE_PATHS.live,
      CORS_ALLOWED_ORIGINS: appUrl(site),
    },
    secretEnv: {
      LIVE_SERVER_SECRET_KEY: secrets.liveServerSecretKey,
      REDIS_PASSWORD: redis.password,
    },
    derivedEnv: { REDIS_URL: redisUrl(redis, site.plane.redisDb) },
    calls: [callTo(api), callTo(redis)],
  };
}
