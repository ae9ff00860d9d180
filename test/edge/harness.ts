/**
 * Runs the generated Caddyfile in a real Caddy (built by tools/caddy/install.sh at the image's
 * version) in front of stub upstreams on loopback, and talks to it from chosen source addresses.
 * Everything listens on loopback; client source addresses are test-only addresses added to `lo`
 * (scripts/test-edge.sh runs the tests in a private network namespace, so the host's stay untouched).
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CADDY_USER } from '../../lib/edge/caddy-image';
import { CaddyAuditLog, undefinedSnippetImports } from '../../lib/edge/caddyfile';
import { UpstreamName } from '../../lib/edge/plane-routes';
import { REPO_ROOT } from '../helpers';

/** Set by scripts/test-edge.sh; else the install script is run (it returns at once when cached). */
export function caddyBinary(): string {
  if (process.env.CADDY_BIN) return process.env.CADDY_BIN;
  const out = execFileSync(path.join(REPO_ROOT, 'tools', 'caddy', 'install.sh'), { stdio: ['ignore', 'pipe', 'inherit'] });
  return out.toString().trim();
}

/** Runs `caddy <args>`; never throws. */
export function caddy(args: string[], cwd: string, env: Record<string, string> = {}): { code: number; output: string } {
  const result = spawnSync(caddyBinary(), args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/**
 * `caddy validate`, stricter: an import that matches nothing only logs a warning in Caddy (an import of
 * a snippet that does not exist, in glob form, seed lesson "REX Palais 1.8"), so it fails here, as does
 * an import that names no snippet of the file.
 */
export function validateStrictly(file: string, dir: string, env: Record<string, string> = {}): { ok: boolean; output: string } {
  const { code, output } = caddy(['validate', '--config', file, '--adapter', 'caddyfile'], dir, env);
  const undefinedImports = undefinedSnippetImports(fs.readFileSync(file, 'utf8'));
  const problems = [
    ...(code !== 0 ? [`caddy validate exited with ${code}`] : []),
    ...(/No files matching import glob pattern/.test(output) ? ['an import matches nothing'] : []),
    ...undefinedImports.map((name) => `import ${name} names no snippet of this file`),
  ];
  return { ok: problems.length === 0, output: [...problems, output].join('\n') };
}

/**
 * The site's access log moved into a test folder (its `log` subfolder, made here): the pod's
 * /var/log/caddy is a volume mount that a test machine does not have.
 */
export function logInto(dir: string, log: CaddyAuditLog): CaddyAuditLog {
  const folder = path.join(dir, 'log');
  fs.mkdirSync(folder, { recursive: true });
  return { ...log, file: path.join(folder, path.basename(log.file)) };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `plane-edge-${prefix}-`));
}

// --- test-only source addresses -----------------------------------------------------------------

/** Why the tests that need their own source addresses cannot run here, or undefined if they can. */
export function addressSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to add test addresses to lo (run scripts/test-edge.sh as root)';
  const probe = spawnSync('ip', ['-o', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
  if (probe.status !== 0) return `the ip command does not work here: ${probe.stderr || probe.error}`;
  return undefined;
}

/** Adds addresses to lo; `remove` takes away exactly those this call added. */
export function addLoopbackAddresses(addresses: readonly string[]): { remove: () => void } {
  const added: string[] = [];
  spawnSync('ip', ['link', 'set', 'lo', 'up']);
  for (const address of addresses) {
    const cidr = address.includes(':') ? `${address}/128` : `${address}/32`;
    const result = spawnSync('ip', [address.includes(':') ? '-6' : '-4', 'addr', 'add', cidr, 'dev', 'lo'], { encoding: 'utf8' });
    if (result.status === 0) added.push(cidr);
    else if (!/exists/i.test(result.stderr)) throw new Error(`ip addr add ${cidr} dev lo: ${result.stderr}`);
  }
  return {
    remove: () => {
      for (const cidr of added) spawnSync('ip', [cidr.includes(':') ? '-6' : '-4', 'addr', 'del', cidr, 'dev', 'lo']);
    },
  };
}

export { freePort } from '../helpers';

// --- stub upstreams ---------------------------------------------------------------------------------

/** What a stub saw of a request; stubs answer it as JSON. */
export interface Echo {
  readonly upstream: UpstreamName;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly forwardedFor?: string;
  readonly bodyBytes: number;
}

export interface Stubs {
  readonly ports: Record<UpstreamName, number>;
  close(): Promise<void>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function websocketAccept(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** One WebSocket text frame; client frames are masked (RFC 6455). */
export function encodeFrame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('test frames are short');
  const mask = masked ? randomBytes(4) : Buffer.alloc(0);
  const body = masked ? payload.map((b, i) => b ^ mask[i % 4]) : payload;
  return Buffer.concat([Buffer.from([0x81, (masked ? 0x80 : 0) | payload.length]), mask, body]);
}

export function decodeFrame(frame: Buffer): string {
  const masked = (frame[1] & 0x80) !== 0;
  const length = frame[1] & 0x7f;
  const mask = masked ? frame.subarray(2, 6) : undefined;
  const payload = frame.subarray(masked ? 6 : 2, (masked ? 6 : 2) + length);
  return Buffer.from(mask ? payload.map((b, i) => b ^ mask[i % 4]) : payload).toString();
}

/** An HTTP server per upstream on 127.0.0.1 that says who it is; each also echoes WebSocket frames. */
export async function startStubs(names: readonly UpstreamName[]): Promise<Stubs> {
  const servers: http.Server[] = [];
  const upgraded = new Set<net.Socket>();
  const ports = {} as Record<UpstreamName, number>;
  for (const upstream of names) {
    const server = http.createServer((req, res) => {
      let bodyBytes = 0;
      req.on('data', (chunk: Buffer) => {
        bodyBytes += chunk.length;
      });
      req.on('end', () => {
        const echo: Echo = {
          upstream,
          method: req.method ?? '',
          url: req.url ?? '',
          host: req.headers.host ?? '',
          forwardedFor: req.headers['x-forwarded-for'] as string | undefined,
          bodyBytes,
        };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(echo));
      });
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      upgraded.add(socket);
      socket.on('close', () => upgraded.delete(socket));
      const key = req.headers['sec-websocket-key'] as string;
      socket.write(
        [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${websocketAccept(key)}`,
          `X-Upstream: ${upstream}`,
          `X-Upstream-Url: ${req.url}`,
          '',
          '',
        ].join('\r\n'),
      );
      socket.on('data', (frame: Buffer) => socket.write(encodeFrame(`${upstream}:${decodeFrame(frame)}`, false)));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports[upstream] = (server.address() as net.AddressInfo).port;
    servers.push(server);
  }
  return {
    ports,
    close: async () => {
      // Upgraded sockets are no longer the server's: close them, or server.close() waits for them.
      for (const socket of upgraded) socket.destroy();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

// --- certificates -------------------------------------------------------------------------------

export interface TestCertificate {
  readonly ca: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A throwaway CA and a certificate for `host`, valid `days`, made with openssl. */
export function makeCertificate(dir: string, host: string, days = 2): TestCertificate {
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2', '-subj', '/CN=plane-k3s edge test CA');
  openssl('req', ...ec, '-keyout', file('tls.key'), '-out', file('tls.csr'), '-subj', `/CN=${host}`);
  fs.writeFileSync(file('san.ext'), `subjectAltName=DNS:${host}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    file('tls.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('tls.crt'),
    '-days',
    String(days),
    '-extfile',
    file('san.ext'),
  );
  return { ca: fs.readFileSync(file('ca.crt'), 'utf8'), certFile: file('tls.crt'), keyFile: file('tls.key') };
}

// --- Caddy as the pod runs it --------------------------------------------------------------------

/**
 * A copy of the binary with the file capability the official image sets on /usr/bin/caddy
 * (`setcap cap_net_bind_service=+ep`), or undefined where setcap is missing.
 */
export function imageLikeBinary(dir: string): string | undefined {
  const copy = path.join(dir, 'caddy');
  fs.copyFileSync(caddyBinary(), copy);
  fs.chmodSync(copy, 0o755);
  const result = spawnSync('setcap', ['cap_net_bind_service=+ep', copy], { encoding: 'utf8' });
  return result.status === 0 ? copy : undefined;
}

/**
 * The pod's process settings (lib/hardening.ts and lib/edge/caddy.ts): Caddy's non-root uid/gid, no
 * new privileges, every capability dropped but NET_BIND_SERVICE kept in the bounding set.
 */
export function podLikeCommand(binary: string, args: string[], bounding = '-all,+net_bind_service'): string[] {
  return [
    'setpriv',
    `--reuid=${CADDY_USER.user}`,
    `--regid=${CADDY_USER.group}`,
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    `--bounding-set=${bounding}`,
    binary,
    ...args,
  ];
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(entryPath, uid, gid);
    else fs.chownSync(entryPath, uid, gid);
  }
}

export interface RunningCaddy {
  readonly dir: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/**
 * Validates and starts a Caddyfile in `dir`; resolves once `healthPort` answers. As root it runs as
 * the pod does (podLikeCommand with the image-like binary); otherwise as the current user.
 */
export async function startCaddy(caddyfile: string, dir: string, healthPort: number): Promise<RunningCaddy> {
  const file = path.join(dir, 'Caddyfile');
  fs.writeFileSync(file, caddyfile);
  const env = { XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_DATA_HOME: path.join(dir, 'data') };
  const validation = validateStrictly(file, dir, env);
  if (!validation.ok) throw new Error(`the Caddyfile does not validate:\n${validation.output}`);

  const args = ['run', '--config', file, '--adapter', 'caddyfile'];
  const asRoot = process.getuid?.() === 0;
  const binary = asRoot ? imageLikeBinary(dir) : undefined;
  let command = [caddyBinary(), ...args];
  if (binary) {
    // The pod's uid owns its emptyDirs (fsGroup); here it owns the test folder.
    chownTree(dir, CADDY_USER.user, CADDY_USER.group);
    command = podLikeCommand(binary, args);
  }
  let output = '';
  const child: ChildProcess = spawn(command[0], command.slice(1), {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`caddy exited with ${child.exitCode}:\n${output}`);
    const ok = await new Promise<boolean>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: healthPort, path: '/health', timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`caddy did not answer on its health port within 15 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    dir,
    log: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// --- clients ------------------------------------------------------------------------------------

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestOptions {
  readonly scheme: 'http' | 'https';
  readonly port: number;
  readonly host: string;
  readonly path: string;
  /** Source address of the client socket. */
  readonly from: string;
  readonly method?: string;
  /**
   * Sent after the server's `100 Continue`, as a client that expects an early refusal does: Caddy
   * answers 413 from Content-Length without reading the body, and a client still writing would then
   * lose that answer to the connection reset.
   */
  readonly body?: Buffer;
  /** Send the body chunked (no Content-Length), so the server must count what it reads. @default false */
  readonly chunked?: boolean;
  readonly headers?: Record<string, string>;
  /** CA to verify the server with (https). */
  readonly ca?: string;
}

/** Caddy listens on loopback: IPv6 clients connect to ::1, IPv4 ones to 127.0.0.1. */
function target(from: string): string {
  return from.includes(':') ? '::1' : '127.0.0.1';
}

/** Where and from where a test client connects; SNI and `ca` matter for https only. */
function connection(options: Pick<RequestOptions, 'from' | 'port' | 'path' | 'host' | 'ca'>): https.RequestOptions {
  return {
    host: target(options.from),
    port: options.port,
    path: options.path,
    localAddress: options.from,
    servername: options.host,
    ca: options.ca,
    agent: false,
    timeout: 10_000,
  };
}

export function request(options: RequestOptions): Promise<Reply> {
  const transport = options.scheme === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      {
        ...connection(options),
        method: options.method ?? 'GET',
        headers: {
          host: options.host,
          ...(options.body ? { expect: '100-continue' } : {}),
          ...(options.body && !options.chunked ? { 'content-length': String(options.body.length) } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${options.path}`)));
    req.on('error', reject);
    if (!options.body) {
      req.end();
      return;
    }
    req.on('continue', () => {
      if (!req.writableEnded) req.end(options.body);
    });
    // A final answer instead of 100 Continue: the body is not wanted.
    req.on('response', () => {
      if (!req.writableEnded) req.end();
    });
  });
}

export interface UpgradeReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly acceptOk: boolean;
  /** What the upstream sent back for one text frame. */
  readonly echoed: string;
}

/** A WebSocket handshake over HTTPS, then one text frame and its echo. */
export function websocket(options: Omit<RequestOptions, 'scheme' | 'method' | 'body'>, message: string): Promise<UpgradeReply> {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = https.request({
      ...connection(options),
      headers: {
        host: options.host,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': key,
        'sec-websocket-version': '13',
      },
    });
    req.on('upgrade', (res: http.IncomingMessage, socket: net.Socket) => {
      socket.once('data', (frame: Buffer) => {
        socket.destroy();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          acceptOk: res.headers['sec-websocket-accept'] === websocketAccept(key),
          echoed: decodeFrame(frame),
        });
      });
      socket.write(encodeFrame(message, true));
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, acceptOk: false, echoed: '' });
    });
    req.on('timeout', () => req.destroy(new Error('websocket timeout')));
    req.on('error', reject);
    req.end();
  });
}
