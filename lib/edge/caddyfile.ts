/**
 * The Caddyfile, as a pure function of its options: the chart renders the site's, the tests render
 * variants (stub upstreams, loopback ports, test certificates) and run them in a real Caddy.
 */
import { PlaneRouting, PlaneUpstreams, ProxyRoute, Upstream } from './plane-routes';

/** How Caddy gets its certificate. */
export type CaddyTls =
  /** Certificate and key files, e.g. a mounted Kubernetes TLS Secret. */
  | { readonly mode: 'files'; readonly certFile: string; readonly keyFile: string }
  /** Caddy's local CA issues the certificate; clients must trust its root. */
  | { readonly mode: 'internal' }
  /** ACME DNS-01 through a caddy-dns provider module; the API token is read from an environment variable. */
  | { readonly mode: 'acme-dns'; readonly provider: string; readonly email: string; readonly tokenEnv: string };

/**
 * Caddy's access log, the audit trail (`plane-k3s audit`): each request with its X-Api-Key as a hash,
 * never the token. How it rolls comes from the site (auditLogRolling in ./edge-site).
 */
export interface CaddyAuditLog {
  /** The log file; rolled files sit beside it, as <name>-<UTC time>-<size|time>.log.gz. */
  readonly file: string;
  /** The file is rolled when it would grow past this many MiB (Caddy's resolution is a whole MiB). */
  readonly rollSizeMiB: number;
  /** Rolled files kept at most. */
  readonly rollKeep: number;
  /** Days a rolled file is kept. */
  readonly keepDays: number;
}

export interface CaddyListenPorts {
  readonly http: number;
  readonly https: number;
  /** Plain HTTP, `GET /health` only, for the kubelet; never exposed. */
  readonly health: number;
}

export interface CaddyfileOptions {
  /** The public host, e.g. work.ewutelo.cloud. */
  readonly host: string;
  readonly routing: PlaneRouting;
  readonly upstreams: PlaneUpstreams;
  /** Request body limit in bytes (Plane's FILE_SIZE_LIMIT); larger bodies get 413. */
  readonly maxBodyBytes: number;
  /** Client CIDRs allowed; everyone else gets 403. `undefined` lets every client in. */
  readonly allowedCidrs?: readonly string[];
  /**
   * In-cluster clients, let in on some paths only (with `allowedCidrs`): the api's S3 calls signed for
   * the public host reach the bucket, never Plane's login, API or god-mode. @default none
   */
  readonly inClusterClients?: { readonly cidrs: readonly string[]; readonly paths: readonly string[] };
  readonly tls: CaddyTls;
  readonly auditLog: CaddyAuditLog;
  readonly ports: CaddyListenPorts;
  /** Addresses to listen on. @default every address of the pod */
  readonly bind?: readonly string[];
}

/** Name of the snippet that answers 403 outside the allowed CIDRs (the seed's name). */
export const VPN_ONLY_SNIPPET = 'vpn_only';
const SECURITY_HEADERS_SNIPPET = 'security_headers';
/** The only path the health listener answers. */
export const HEALTH_PATH = '/health';

/**
 * The access log's field that holds the hash of the request's X-Api-Key: the first 8 hex digits of its
 * SHA-256 (Caddy's `hash` log filter), absent when the request has no key.
 */
export const API_KEY_HASH_FIELD = 'api_key';
/** The access log's field with the client's User-Agent (which runtime an agent uses). */
export const USER_AGENT_FIELD = 'user_agent';
/**
 * A Plane API token in any text a client chooses (RE2, Caddy's regexp filter): plane_api_ and its
 * characters, in any case, with the underscores percent-encoded or not.
 */
export const TOKEN_IN_TEXT = '(?i)plane(_|%5f)api(_|%5f)[0-9a-z]+';
/** What the regexp filter writes instead of a token. */
export const TOKEN_MASK = 'plane_api_REDACTED';

/**
 * Log fields a client can fill with a token, and what the filters do to them: the request and response
 * headers are dropped whole (any header can carry a token; Authorization and Cookie would only be
 * redacted, a custom one not at all; a redirect's Location repeats the query), the key is hashed, and
 * the text a client chooses otherwise (the URI with its query, the Host, the TLS server name, the User-Agent)
 * has every token-shaped value masked. The same filters apply to Caddy's own log (stderr): its error
 * entries carry the request, headers included, and requests for other hosts are logged there.
 */
function logFilters(options: { accessLog: boolean }): string[] {
  const masked = ['request>uri', 'request>host', 'request>tls>server_name', ...(options.accessLog ? [USER_AGENT_FIELD] : [])];
  return block('format filter', [
    'wrap json',
    'request>headers delete',
    'resp_headers delete',
    ...(options.accessLog ? [`${API_KEY_HASH_FIELD} hash`] : []),
    ...masked.map((field) => `${field} regexp ${TOKEN_IN_TEXT} ${TOKEN_MASK}`),
  ]);
}

/** The site's access log (the audit trail), rolled and bounded as the site says. */
function accessLog(log: CaddyAuditLog): string[] {
  return [
    '# The audit trail (plane-k3s audit): the X-Api-Key as a hash, never the token.',
    ...block('log', [
      ...block(`output file ${log.file}`, [
        'mode 0600',
        `roll_size ${log.rollSizeMiB}MiB`,
        `roll_keep ${log.rollKeep}`,
        `roll_keep_for ${log.keepDays}d`,
        // A file a day: the age limit then removes whole days, however quiet the traffic.
        'roll_at 00:00',
        'roll_compression gzip',
      ]),
      ...logFilters({ accessLog: true }),
    ]),
    `@with_api_key header X-Api-Key *`,
    `log_append @with_api_key ${API_KEY_HASH_FIELD} {http.request.header.X-Api-Key}`,
    `log_append ${USER_AGENT_FIELD} {http.request.header.User-Agent}`,
  ];
}

/** Lines of a block (`head` '' for the global options block), indented with tabs as `caddy fmt` does. */
function block(head: string, body: readonly string[]): string[] {
  return [head === '' ? '{' : `${head} {`, ...body.map((line) => (line === '' ? '' : `\t${line}`)), '}'];
}

function address(upstream: Upstream | undefined, name: string): string {
  if (!upstream) throw new Error(`the routing sends requests to ${name}, which has no upstream`);
  return `${upstream.host}:${upstream.port}`;
}

/** Caddy matcher name of a route: "objectStore" → "@object_store". */
function matcherName(route: ProxyRoute): string {
  return `@${route.upstream.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

function globalOptions(options: CaddyfileOptions): string[] {
  const { ports, tls, bind } = options;
  return block('', [
    // No admin API (nothing reloads Caddy: a new Caddyfile rolls the pod) and no autosave.
    'admin off',
    'persist_config off',
    `http_port ${ports.http}`,
    `https_port ${ports.https}`,
    // The HTTP site below redirects to the public port 443, which Caddy's own redirect would not.
    'auto_https disable_redirects',
    'skip_install_trust',
    ...(bind ? [`default_bind ${bind.join(' ')}`] : []),
    ...(tls.mode === 'acme-dns' ? [`email ${tls.email}`] : []),
    // Caddy's own log (stderr, the pod's log), filtered as the access log is.
    ...block('log default', ['output stderr', ...logFilters({ accessLog: false })]),
    ...block('servers', [
      // Only TCP is exposed: no HTTP/3 advertisement that clients would try over UDP.
      'protocols h1 h2',
      // As Plane's own proxy (large cookies and headers).
      'max_header_size 25MB',
    ]),
  ]);
}

function vpnOnlySnippet(cidrs: readonly string[], inCluster?: CaddyfileOptions['inClusterClients']): string[] {
  // remote_ip is the TCP peer: X-Forwarded-For is never trusted for this decision.
  const outside = inCluster
    ? block('@outside_vpn', [
        `not remote_ip ${cidrs.join(' ')}`,
        ...block('not', [`remote_ip ${inCluster.cidrs.join(' ')}`, `path ${inCluster.paths.join(' ')}`]),
      ])
    : [`@outside_vpn not remote_ip ${cidrs.join(' ')}`];
  return block(`(${VPN_ONLY_SNIPPET})`, [...outside, 'respond @outside_vpn "Forbidden: this host is reachable from the VPN only" 403']);
}

function securityHeadersSnippet(): string[] {
  return block(
    `(${SECURITY_HEADERS_SNIPPET})`,
    block('header', [
      'Strict-Transport-Security "max-age=31536000"',
      // "?" sets a default: a header Plane sends itself wins.
      '?X-Content-Type-Options "nosniff"',
      '?X-Frame-Options "SAMEORIGIN"',
      '?Referrer-Policy "strict-origin-when-cross-origin"',
      '-Server',
    ]),
  );
}

function tlsDirective(tls: CaddyTls): string[] {
  switch (tls.mode) {
    case 'files':
      return [`tls ${tls.certFile} ${tls.keyFile}`];
    case 'internal':
      return ['tls internal'];
    case 'acme-dns':
      return block('tls', [`dns ${tls.provider} {env.${tls.tokenEnv}}`]);
  }
}

/** Renders the Caddyfile. Throws if it would import a snippet it does not define. */
export function renderCaddyfile(options: CaddyfileOptions): string {
  const { host, routing, upstreams } = options;
  const vpnOnly = options.allowedCidrs !== undefined;
  if (vpnOnly && options.allowedCidrs.length === 0) throw new Error('allowedCidrs is empty: every client would get 403');
  const vpnCheck = vpnOnly ? [`import ${VPN_ONLY_SNIPPET}`] : [];
  const withPaths = routing.routes.filter((r) => r.paths.length > 0);
  const rest = routing.routes.filter((r) => r.paths.length === 0);
  if (rest.length !== 1 || routing.routes[routing.routes.length - 1] !== rest[0]) {
    throw new Error('the routing needs exactly one route without paths, last');
  }

  const lines = [
    '# Generated by plane-k3s from the site file (lib/edge/caddyfile.ts); edit the site file, not this.',
    ...globalOptions(options),
    '',
    ...(vpnOnly ? [...vpnOnlySnippet(options.allowedCidrs, options.inClusterClients), ''] : []),
    ...securityHeadersSnippet(),
    '',
    '# Plain HTTP only redirects to HTTPS.',
    ...block(`http://${host}`, block('route', [...vpnCheck, `redir https://${host}{uri} permanent`])),
    '',
    ...block(host, [
      ...tlsDirective(options.tls),
      `import ${SECURITY_HEADERS_SNIPPET}`,
      ...accessLog(options.auditLog),
      ...block('request_body', [`max_size ${options.maxBodyBytes}`]),
      '',
      ...withPaths.map((r) => `${matcherName(r)} path ${r.paths.join(' ')}`),
      '',
      '# Inside route, directives run in the order written: the VPN check comes first.',
      ...block('route', [
        ...vpnCheck,
        ...routing.redirects.map((r) => `redir ${r.from} ${r.to} permanent`),
        ...withPaths.map((r) => `reverse_proxy ${matcherName(r)} ${address(upstreams[r.upstream], r.upstream)}`),
        `reverse_proxy ${address(upstreams[rest[0].upstream], rest[0].upstream)}`,
      ]),
    ]),
    '',
    '# Kubelet probes; this port is not exposed.',
    ...block(`http://:${options.ports.health}`, [`respond ${HEALTH_PATH} "OK" 200`]),
    '',
  ];
  const text = lines.join('\n');
  const missing = undefinedSnippetImports(text);
  if (missing.length > 0) throw new Error(`the Caddyfile imports undefined snippets: ${missing.join(', ')}`);
  return text;
}

/** Snippets a Caddyfile defines: `(name) {` at the top level. */
export function definedSnippets(caddyfile: string): string[] {
  return [...caddyfile.matchAll(/^\(([^)\s]+)\)\s*\{/gm)].map((m) => m[1]);
}

/** Names a Caddyfile imports. */
export function importedNames(caddyfile: string): string[] {
  return [...caddyfile.matchAll(/^\s*import\s+(\S+)/gm)].map((m) => m[1]);
}

/**
 * Imports that name no snippet of the same file. Caddy reads such a name as a file path or glob (seed
 * lesson "REX Palais 1.8": an import of a snippet that did not exist), so a check that depended on
 * it would be gone; the generator refuses to produce one.
 */
export function undefinedSnippetImports(caddyfile: string): string[] {
  const defined = new Set(definedSnippets(caddyfile));
  return importedNames(caddyfile).filter((name) => !defined.has(name));
}
