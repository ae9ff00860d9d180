/**
 * The generated Caddyfile in a real Caddy (tools/caddy/install.sh, the image's version), run as the pod
 * runs it, in front of stub upstreams: Plane's routes, redirects, headers, body limit, WebSockets,
 * VPN-only access from real source addresses, TLS modes. `npm run test:edge` (scripts/test-edge.sh).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SiteConfig } from '../../lib/config/site-config';
import { CaddyfileOptions, CaddyTls, renderCaddyfile } from '../../lib/edge/caddyfile';
import { POD_LOOPBACK_CIDRS, siteCaddyfileOptions } from '../../lib/edge/edge-site';
import { PlaneUpstreams, UpstreamName } from '../../lib/edge/plane-routes';
import { appHost } from '../../lib/site';
import { siteWith } from '../helpers';
import {
  addLoopbackAddresses,
  addressSkipReason,
  caddy,
  Echo,
  freePort,
  logInto,
  makeCertificate,
  Reply,
  request,
  RequestOptions,
  RunningCaddy,
  startCaddy,
  startStubs,
  Stubs,
  tempDir,
  validateStrictly,
  websocket,
} from './harness';

const skip = addressSkipReason();
const SITE = siteWith();
const HOST = appHost(SITE);
const LIMIT = SITE.plane.fileSizeLimit;

/** Test-only client addresses: inside the VPN (both families), in the pod CIDR, and outside. */
const FROM = {
  vpn: '100.64.0.10',
  vpn6: 'fd7a:115c:a1e0::10',
  pod: '10.42.0.10',
  outside: '192.0.2.10',
  outside6: '2001:db8::10',
};
const UPSTREAMS: UpstreamName[] = ['web', 'space', 'admin', 'live', 'api', 'objectStore'];

interface Edge {
  readonly caddy: RunningCaddy;
  readonly options: CaddyfileOptions;
  /** CA that signed the served certificate. */
  readonly ca: string;
}

/**
 * The site's Caddyfile with only what a test machine needs changed: upstreams → stubs, loopback ports,
 * and the certificate (a test CA's, or Caddy's own with `internal`).
 */
async function startEdge(site: SiteConfig, stubs: Stubs, tls: 'files' | 'internal', dir: string): Promise<Edge> {
  const upstreams = Object.fromEntries(
    UPSTREAMS.map((name) => [name, { host: '127.0.0.1', port: stubs.ports[name] }]),
  ) as unknown as PlaneUpstreams;
  const ports = { http: await freePort(), https: await freePort(), health: await freePort() };
  const certificate = tls === 'files' ? makeCertificate(dir, appHost(site)) : undefined;
  const caddyTls: CaddyTls = certificate
    ? { mode: 'files', certFile: certificate.certFile, keyFile: certificate.keyFile }
    : { mode: 'internal' };
  const siteOptions = siteCaddyfileOptions(site, upstreams);
  const options: CaddyfileOptions = {
    ...siteOptions,
    ports,
    bind: ['127.0.0.1', '::1'],
    tls: caddyTls,
    auditLog: logInto(dir, siteOptions.auditLog),
  };
  const running = await startCaddy(renderCaddyfile(options), dir, ports.health);
  if (certificate) return { caddy: running, options, ca: certificate.ca };
  // Caddy's local CA issues the certificate in the background once it runs: wait for it.
  const root = path.join(dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt');
  for (const deadline = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 200))) {
    if (fs.existsSync(root)) {
      const edge = { caddy: running, options, ca: fs.readFileSync(root, 'utf8') };
      const ready = await get(edge, '/health-of-tls', FROM.vpn).then(
        () => true,
        () => false,
      );
      if (ready) return edge;
    }
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`no certificate from Caddy's local CA within 15 s:\n${running.log()}`);
    }
  }
}

function get(
  edge: Edge,
  urlPath: string,
  from: string,
  extra: Pick<RequestOptions, 'method' | 'body' | 'chunked' | 'headers'> = {},
): Promise<Reply> {
  return request({ scheme: 'https', port: edge.options.ports.https, host: HOST, path: urlPath, from, ca: edge.ca, ...extra });
}

function echoOf(reply: Reply): Echo {
  assert.equal(reply.status, 200, `status ${reply.status}: ${reply.body}`);
  return JSON.parse(reply.body) as Echo;
}

describe('the generated Caddyfile in a real Caddy', { skip }, () => {
  let stubs: Stubs;
  let addresses: { remove: () => void };
  let edge: Edge;
  const dirs: string[] = [];

  before(async () => {
    addresses = addLoopbackAddresses(Object.values(FROM));
    stubs = await startStubs(UPSTREAMS);
    const dir = tempDir('javisi');
    dirs.push(dir);
    edge = await startEdge(SITE, stubs, 'files', dir);
  });

  after(async () => {
    await edge?.caddy.stop();
    await stubs?.close();
    addresses?.remove();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('validates, is in `caddy fmt` form, and applies vpn_only on both sites', () => {
    const file = path.join(edge.caddy.dir, 'Caddyfile');
    const validation = validateStrictly(file, edge.caddy.dir);
    assert.ok(validation.ok, validation.output);
    const formatted = caddy(['fmt', file], edge.caddy.dir);
    assert.equal(formatted.output, fs.readFileSync(file, 'utf8'), 'caddy fmt would change the generated Caddyfile');
    const adapted = caddy(['adapt', '--config', file], edge.caddy.dir);
    assert.equal(adapted.code, 0, adapted.output);
    const ranges = JSON.stringify({ remote_ip: { ranges: [...SITE.network.vpnCidrs, ...POD_LOOPBACK_CIDRS] } });
    assert.equal(adapted.output.split(ranges).length - 1, 2, 'the remote_ip check must be in the HTTP and the HTTPS site');
  });

  const routes: [string, UpstreamName][] = [
    ['/spaces/', 'space'],
    ['/spaces/javisi/board?view=list', 'space'],
    ['/god-mode/', 'admin'],
    ['/god-mode/general/', 'admin'],
    ['/live/health', 'live'],
    ['/api/v1/users/me/', 'api'],
    ['/api/instances/', 'api'],
    ['/auth/get-csrf-token/', 'api'],
    ['/static/admin/css/base.css', 'api'],
    ['/uploads', 'objectStore'],
    ['/uploads/', 'objectStore'],
    ['/uploads/workspace/a1b2/photo.png?X-Amz-Signature=abc&X-Amz-Expires=3600', 'objectStore'],
    ['/', 'web'],
    ['/javisi/projects/', 'web'],
    ['/spacesx', 'web'],
    ['/api', 'web'],
    ['/uploads-old/file', 'web'],
    ['/livex/', 'web'],
  ];
  for (const [urlPath, upstream] of routes) {
    it(`${urlPath} → ${upstream}, path and Host unchanged`, async () => {
      const echo = echoOf(await get(edge, urlPath, FROM.vpn));
      assert.equal(echo.upstream, upstream);
      assert.equal(echo.url, urlPath, 'the prefix must not be stripped');
      // Uploads are presigned for the public host: the store must see the Host the browser sent.
      assert.equal(echo.host, HOST);
      assert.equal(echo.forwardedFor, FROM.vpn);
    });
  }

  it('redirects /spaces and /god-mode to their trailing-slash form', async () => {
    for (const base of ['/spaces', '/god-mode']) {
      const reply = await get(edge, base, FROM.vpn);
      assert.equal(reply.status, 301, base);
      assert.equal(reply.headers.location, `${base}/`);
    }
  });

  it('redirects plain HTTP to HTTPS on the public port, keeping path and query', async () => {
    const reply = await request({
      scheme: 'http',
      port: edge.options.ports.http,
      host: HOST,
      path: '/javisi/projects/?a=1',
      from: FROM.vpn,
    });
    assert.equal(reply.status, 301);
    assert.equal(reply.headers.location, `https://${HOST}/javisi/projects/?a=1`);
  });

  it('adds security headers to proxied responses and hides the server', async () => {
    const reply = await get(edge, '/', FROM.vpn);
    assert.equal(reply.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(reply.headers['x-content-type-options'], 'nosniff');
    assert.equal(reply.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(reply.headers['referrer-policy'], 'strict-origin-when-cross-origin');
    assert.equal(reply.headers.server, undefined);
    assert.equal(reply.headers['alt-svc'], undefined, 'no HTTP/3 advertised: only TCP is exposed');
  });

  it(`passes a body of exactly FILE_SIZE_LIMIT (${LIMIT} bytes) and answers 413 to one byte more`, async () => {
    for (const chunked of [false, true]) {
      const atLimit = echoOf(await get(edge, '/uploads/', FROM.vpn, { method: 'POST', body: Buffer.alloc(LIMIT, 0x61), chunked }));
      assert.equal(atLimit.bodyBytes, LIMIT, `chunked: ${chunked}`);
      for (const urlPath of ['/uploads/', '/api/assets/v2/']) {
        // With a Content-Length Caddy refuses before reading; chunked, it counts what it reads.
        const over = await get(edge, urlPath, FROM.vpn, { method: 'POST', body: Buffer.alloc(LIMIT + 1, 0x61), chunked });
        assert.equal(over.status, 413, `${urlPath} chunked: ${chunked}`);
      }
    }
  });

  it('upgrades a WebSocket through /live/ to the live server and carries frames both ways', async () => {
    const reply = await websocket(
      { port: edge.options.ports.https, host: HOST, path: '/live/collaboration?documentId=1', from: FROM.vpn, ca: edge.ca },
      'hello',
    );
    assert.equal(reply.status, 101);
    assert.ok(reply.acceptOk, 'Sec-WebSocket-Accept must match the key');
    assert.equal(reply.headers['x-upstream'], 'live');
    assert.equal(reply.headers['x-upstream-url'], '/live/collaboration?documentId=1');
    assert.equal(reply.echoed, 'live:hello');
  });

  it('lets in VPN clients (IPv4 and IPv6)', async () => {
    for (const from of [FROM.vpn, FROM.vpn6]) {
      assert.equal(echoOf(await get(edge, '/api/v1/users/me/', from)).forwardedFor, from);
    }
  });

  it("lets pods reach the bucket only (the api's S3 calls), never Plane's login, API or god-mode", async () => {
    assert.equal(echoOf(await get(edge, `/${SITE.plane.bucket}/x`, FROM.pod)).upstream, 'objectStore');
    for (const urlPath of ['/', '/api/v1/users/me/', '/auth/sign-in/', '/god-mode/', '/spaces/', `/${SITE.plane.bucket}`]) {
      const reply = await get(edge, urlPath, FROM.pod, { headers: { 'x-forwarded-for': FROM.vpn } });
      assert.equal(reply.status, 403, `${FROM.pod} ${urlPath}`);
    }
  });

  it("lets in the pod's loopback, where kubectl port-forward (plane-k3s verify) connects from", async () => {
    for (const from of ['127.0.0.1', '::1']) {
      assert.equal(echoOf(await get(edge, '/', from)).upstream, 'web', from);
    }
  });

  it('answers 403 to any other address, on HTTPS and HTTP, whatever X-Forwarded-For says', async () => {
    for (const from of [FROM.outside, FROM.outside6]) {
      for (const urlPath of ['/', '/spaces', '/api/v1/users/me/', '/uploads/x']) {
        const reply = await get(edge, urlPath, from, { headers: { 'x-forwarded-for': FROM.vpn } });
        assert.equal(reply.status, 403, `${from} ${urlPath}`);
      }
      const plain = await request({ scheme: 'http', port: edge.options.ports.http, host: HOST, path: '/', from });
      assert.equal(plain.status, 403, `${from} over HTTP`);
    }
  });

  describe('variants', () => {
    it('vpnEnforce: false lets an outside client in', async () => {
      const dir = tempDir('open');
      dirs.push(dir);
      const open = await startEdge(
        siteWith((s) => {
          s.edge.vpnEnforce = false;
        }),
        stubs,
        'files',
        dir,
      );
      try {
        assert.equal(echoOf(await get(open, '/', FROM.outside)).upstream, 'web');
      } finally {
        await open.caddy.stop();
      }
    });

    it("tls internal: Caddy's local CA issues the certificate, which verifies against its root", async () => {
      const dir = tempDir('internal');
      dirs.push(dir);
      const internal = await startEdge(
        siteWith((s) => {
          s.edge.tls = { mode: 'internal', storage: '64Mi' };
        }),
        stubs,
        'internal',
        dir,
      );
      try {
        assert.equal(echoOf(await get(internal, '/god-mode/', FROM.vpn)).upstream, 'admin');
        assert.equal((await get(internal, '/', FROM.outside)).status, 403);
      } finally {
        await internal.caddy.stop();
      }
    });
  });
});

describe('Caddyfiles that must not pass', () => {
  it('a Caddyfile that imports a snippet that does not exist fails validation (seed lesson REX Palais 1.8)', () => {
    const dir = tempDir('snippet');
    try {
      const siteOptions = siteCaddyfileOptions(
        SITE,
        Object.fromEntries(UPSTREAMS.map((n) => [n, { host: '127.0.0.1', port: 9 }])) as unknown as PlaneUpstreams,
      );
      const good = renderCaddyfile({ ...siteOptions, tls: { mode: 'internal' }, auditLog: logInto(dir, siteOptions.auditLog) });
      for (const [name, broken] of [
        ['exact name', good.replace(/import vpn_only/, 'import vpn_onyl')],
        // Caddy reads a name with a glob character as a file pattern: matching nothing, it only warns.
        ['glob', good.replace(/import vpn_only/, 'import vpn_onl*')],
      ]) {
        assert.notEqual(broken, good);
        const file = path.join(dir, `Caddyfile-${name.replace(' ', '-')}`);
        fs.writeFileSync(file, broken);
        const result = validateStrictly(file, dir, { XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir });
        assert.equal(result.ok, false, `${name}: a missing snippet must fail:\n${result.output}`);
      }
      const glob = caddy(['validate', '--config', path.join(dir, 'Caddyfile-glob'), '--adapter', 'caddyfile'], dir, {
        XDG_CONFIG_HOME: dir,
        XDG_DATA_HOME: dir,
      });
      assert.equal(glob.code, 0, 'Caddy itself accepts a glob import that matches nothing (why the stricter check exists)');
      assert.match(glob.output, /No files matching import glob pattern/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('acme-dns with the official build: Caddy has no DNS provider module (why the site schema refuses it)', () => {
    const dir = tempDir('acme');
    try {
      const siteOptions = siteCaddyfileOptions(
        SITE,
        Object.fromEntries(UPSTREAMS.map((n) => [n, { host: '127.0.0.1', port: 9 }])) as unknown as PlaneUpstreams,
      );
      const text = renderCaddyfile({
        ...siteOptions,
        tls: { mode: 'acme-dns', provider: 'cloudflare', email: 'ops@ewutelo.cloud', tokenEnv: 'DNS_API_TOKEN' },
        auditLog: logInto(dir, siteOptions.auditLog),
      });
      const file = path.join(dir, 'Caddyfile');
      fs.writeFileSync(file, text);
      const result = caddy(['validate', '--config', file, '--adapter', 'caddyfile'], dir, { XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir });
      assert.notEqual(result.code, 0);
      assert.match(result.output, /dns\.providers\.cloudflare/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
