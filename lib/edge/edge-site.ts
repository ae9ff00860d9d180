/** What the edge takes from the site config; one definition each, shared by the charts and the tests. */
import { AuditLogConfig, EdgeConfig } from '../config/edge-config';
import { PodSecurityLevel } from '../hardening';
import { SiteConfig } from '../config/site-config';
import { appHost } from '../site';
import { CADDY_AUDIT_LOG_FILE, CADDY_PORTS, TLS_SECRET_PATH } from './caddy-image';
import { CaddyAuditLog, CaddyfileOptions, CaddyTls } from './caddyfile';
import { PlaneUpstreams, planeRouting } from './plane-routes';

/** Environment variable holding the DNS provider's API token (acme-dns). */
export const DNS_API_TOKEN_ENV = 'DNS_API_TOKEN';
/** Key of the API token in the operator's Secret (acme-dns). */
export const DNS_API_TOKEN_KEY = 'api-token';

/**
 * A load balancer's source ranges: the VPN ranges, and the pod CIDR for pods that reach the load
 * balancer's address rather than Caddy's Service. Which pods may connect at all is the edge's
 * NetworkPolicy's (the api's alone), and where they may go Caddy's (inClusterEdgeClients).
 */
export function networkClientCidrs(site: SiteConfig): string[] {
  return [...site.network.vpnCidrs, site.kubernetes.podCidr];
}

/**
 * The pod's own loopback: `kubectl port-forward` (and `plane-k3s verify`) connect from 127.0.0.1 inside
 * Caddy's network namespace, which only the kubelet, on behalf of someone allowed pods/portforward in
 * the edge namespace, can enter; host-port and load-balancer clients keep their own address.
 */
export const POD_LOOPBACK_CIDRS = ['127.0.0.1/32', '::1/128'] as const;

/** Clients Caddy's vpn_only lets in everywhere: the VPN's and the pod's loopback (pods: inClusterEdgeClients). */
export function allowedClientCidrs(site: SiteConfig): string[] {
  return [...site.network.vpnCidrs, ...POD_LOOPBACK_CIDRS];
}

/**
 * Pods that reach the app host through the edge, and where: only the api, for the S3 calls Plane signs
 * for the public host, to the bucket's path, when the edge serves the in-cluster store. NetworkPolicies
 * admit the api's pods alone; Caddy lets the pod range nowhere else (login, API and god-mode get 403).
 */
export function inClusterEdgeClients(site: SiteConfig, servesBucket: boolean): CaddyfileOptions['inClusterClients'] {
  return servesBucket ? { cidrs: [site.kubernetes.podCidr], paths: [`/${site.plane.bucket}/*`] } : undefined;
}

/**
 * Pod Security of Caddy's namespace. A hostPort violates even the "baseline" profile, so the hostPort
 * exposure needs "privileged", enforced and warned (kubectl apply then prints no warning), confined
 * to Caddy's own namespace; the audit level stays "restricted", which Caddy meets but for its host
 * ports (test/hardening.test.ts), so the audit log records exactly that exception.
 */
export function edgePodSecurity(edge: EdgeConfig): { podSecurityLevel: PodSecurityLevel; auditLevel: PodSecurityLevel } {
  return edge.exposure === 'hostPort'
    ? { podSecurityLevel: 'privileged', auditLevel: 'restricted' }
    : { podSecurityLevel: 'restricted', auditLevel: 'restricted' };
}

function caddyTls(edge: EdgeConfig): CaddyTls {
  const { tls } = edge;
  switch (tls.mode) {
    case 'secret':
      return { mode: 'files', certFile: `${TLS_SECRET_PATH}/tls.crt`, keyFile: `${TLS_SECRET_PATH}/tls.key` };
    case 'internal':
      return { mode: 'internal' };
    case 'acme-dns': {
      const acme = tls.acme as NonNullable<typeof tls.acme>;
      return { mode: 'acme-dns', provider: acme.provider, email: acme.email, tokenEnv: DNS_API_TOKEN_ENV };
    }
  }
}

/**
 * How Caddy rolls the audit trail so that it stays within edge.auditLog: a file a day (roll_at), kept
 * `retentionDays`; `retentionDays` rolled files at most, each of `rollSizeMiB`, so that with the
 * current file and one being compressed, (rollKeep + 2) × rollSizeMiB ≤ maxSizeMiB even if gzip
 * saved nothing. Heavy traffic rolls by size too, and the count then removes the oldest before its age.
 */
export function auditLogRolling(log: AuditLogConfig): Omit<CaddyAuditLog, 'file'> {
  const rollKeep = log.retentionDays;
  return { rollSizeMiB: Math.floor(log.maxSizeMiB / (rollKeep + 2)), rollKeep, keepDays: log.retentionDays };
}

/** The audit trail's volume: the site's bound on the files (local-path does not enforce a claim's size: Caddy's rolling does). */
export function auditLogStorage(log: AuditLogConfig): string {
  return `${log.maxSizeMiB}Mi`;
}

/** The site's Caddyfile options; tests override ports, bind, tls and the log file to run it on loopback. */
export function siteCaddyfileOptions(site: SiteConfig, upstreams: PlaneUpstreams): CaddyfileOptions {
  return {
    host: appHost(site),
    routing: planeRouting(upstreams.objectStore ? site.plane.bucket : undefined),
    upstreams,
    maxBodyBytes: site.plane.fileSizeLimit,
    allowedCidrs: site.edge.vpnEnforce ? allowedClientCidrs(site) : undefined,
    inClusterClients: site.edge.vpnEnforce ? inClusterEdgeClients(site, upstreams.objectStore !== undefined) : undefined,
    tls: caddyTls(site.edge),
    auditLog: { file: CADDY_AUDIT_LOG_FILE, ...auditLogRolling(site.edge.auditLog) },
    ports: CADDY_PORTS,
  };
}
