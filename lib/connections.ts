import { Peer } from './network/peers';

/**
 * What a data service exposes to its clients. Charts pass these objects along instead of retyping
 * host names, ports or Secret names (wire by reference).
 */

/** One key of a Secret; its value never appears in dist/. */
export interface SecretKeyRef {
  readonly secretName: string;
  readonly key: string;
}

/**
 * How the secrets bootstrap Job generates a key that is missing (lib/plane/secrets/plane_k3s_secrets.py):
 * random hex of 16, 24 or 32 bytes (URL-safe, so composed URLs stay valid), a Garage key id ("GK" + 24
 * hex), or a Plane API token ("plane_api_" + 32 hex, Plane's own format).
 */
export type SecretFormat = 'hex16' | 'hex24' | 'hex32' | 'garage-key-id' | 'plane-api-token';

/** A key the stack's Secrets must hold: generated in the cluster, or a plain value written beside them. */
export type SecretKeySource =
  { readonly ref: SecretKeyRef; readonly generate: SecretFormat } | { readonly ref: SecretKeyRef; readonly value: string };

/** DNS name of a Service, known before the Service exists (e.g. for ALLOWED_HOSTS). */
export function serviceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc`;
}

/** A TCP endpoint, reached through a Service of the stack's namespace. */
export interface ServiceEndpoint {
  /** Service DNS name. */
  readonly host: string;
  readonly port: number;
  /** Who serves it, for NetworkPolicies: in-cluster pods, or an external address. */
  readonly peer: Peer;
}

/** What a component needs in Secrets, for the bootstrap Job to create. */
export interface NeedsSecrets {
  readonly secretKeys: readonly SecretKeySource[];
}

export interface PostgresConnection extends ServiceEndpoint, NeedsSecrets {
  readonly database: string;
  readonly user: string;
  readonly password: SecretKeyRef;
}

export interface RedisConnection extends ServiceEndpoint, NeedsSecrets {
  readonly password: SecretKeyRef;
}

export interface AmqpConnection extends ServiceEndpoint, NeedsSecrets {
  readonly user: string;
  readonly vhost: string;
  readonly password: SecretKeyRef;
}

export interface S3Connection extends ServiceEndpoint, NeedsSecrets {
  /** Endpoint URL, e.g. http://plane-object-store.plane.svc:3900 in the cluster, or https://s3.example.org. */
  readonly endpointUrl: string;
  /**
   * true: browsers reach the bucket through the edge, at https://<app host>/<bucket>/ (the store serves
   * path-style requests for any Host), and Plane signs for the public host. false: browsers reach the
   * store's own endpoint, which Plane signs for.
   */
  readonly servedThroughEdge: boolean;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: SecretKeyRef;
  readonly secretAccessKey: SecretKeyRef;
}
