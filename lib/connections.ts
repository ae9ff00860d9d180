import { Peer } from './network/peers';

/**
 * What a data service exposes to its clients. Charts pass these objects along instead of retyping
 * host names, ports or Secret names (wire by reference).
 */

/** One key of a Secret that the operator creates; its value never appears in dist/. */
export interface SecretKeyRef {
  readonly secretName: string;
  readonly key: string;
}

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

export interface PostgresConnection extends ServiceEndpoint {
  readonly database: string;
  readonly user: string;
  readonly password: SecretKeyRef;
}

export interface RedisConnection extends ServiceEndpoint {
  readonly password: SecretKeyRef;
}

export interface AmqpConnection extends ServiceEndpoint {
  readonly user: string;
  readonly vhost: string;
  readonly password: SecretKeyRef;
}

export interface S3Connection extends ServiceEndpoint {
  /** In-cluster endpoint URL, e.g. http://plane-object-store.plane.svc.cluster.local:3900. */
  readonly endpointUrl: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: SecretKeyRef;
  readonly secretAccessKey: SecretKeyRef;
}
