/**
 * What the Caddy images need to run hardened. Read from the official image's Dockerfile
 * (docker-library caddy, alpine variant): caddy is installed as /usr/bin/caddy with
 * `setcap cap_net_bind_service=+ep`, XDG_CONFIG_HOME=/config, XDG_DATA_HOME=/data, no USER (root).
 */
import { RunAs } from '../hardening';

/** The image has no caddy user; Caddy only writes its XDG folders, so any non-root id works. */
export const CADDY_USER: RunAs = { user: 10080, group: 10080 };

/**
 * Caddy listens on high ports inside the pod, so binding needs no capability; hostPort or the
 * Service maps 80 and 443 onto them.
 */
export const CADDY_PORTS = { http: 8080, https: 8443, health: 8081 } as const;
/** Ports clients use (the public scheme's defaults). */
export const PUBLIC_PORTS = { http: 80, https: 443 } as const;

export const CADDYFILE_PATH = '/etc/caddy/Caddyfile';
/** Certificates, ACME account and local CA (XDG_DATA_HOME). */
export const CADDY_DATA_PATH = '/data';
/** Caddy's autosave folder (XDG_CONFIG_HOME); unused with persist_config off, but created at start. */
export const CADDY_CONFIG_PATH = '/config';
/**
 * Caddy's access log, the audit trail: the only file it writes outside its XDG folders, on a volume
 * of its own mounted at its folder (rolled files sit beside it): the root filesystem stays read-only.
 */
export const CADDY_AUDIT_LOG_FILE = '/var/log/caddy/access.log';
/** Where a Kubernetes TLS Secret is mounted (keys tls.crt and tls.key). */
export const TLS_SECRET_PATH = '/etc/caddy/tls';

export const CADDY_COMMAND = ['caddy', 'run', '--config', CADDYFILE_PATH, '--adapter', 'caddyfile'];
