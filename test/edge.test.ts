/**
 * The edge over the synthesized output: Caddy's routing, VPN-only access, TLS modes, exposure and split
 * DNS, and the site-config errors of the edge section. Fast; the real Caddy runs in test/edge/.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HEADSCALE_RECORDS_FILE } from '../lib/edge/split-dns';
import { definedSnippets, importedNames, renderCaddyfile, undefinedSnippetImports } from '../lib/edge/caddyfile';
import { planeRouting } from '../lib/edge/plane-routes';
import { siteCaddyfileOptions } from '../lib/edge/edge-site';
import { sideFiles } from '../main';
import { componentTemplate, containersOf, find, Manifest, siteWith, synth } from './helpers';

const manifests = synth();

function caddyfileOf(all: Manifest[]): string {
  return find(all, 'ConfigMap', 'plane-caddy-files').data.Caddyfile;
}

function caddyContainer(all: Manifest[]): Manifest {
  return containersOf(componentTemplate(all, 'caddy').template)[0];
}

/** The `route { … }` block of the HTTPS site, one directive a line. */
function routeLines(caddyfile: string): string[] {
  const site = caddyfile.slice(caddyfile.indexOf('\nwork.ewutelo.cloud {'));
  const start = site.indexOf('route {') + 'route {'.length;
  const body = site.slice(start, site.indexOf('\n\t}', start));
  return body
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

const caddyfile = caddyfileOf(manifests);

describe("Plane's routing (apps/proxy/Caddyfile.ce v1.2.2)", () => {
  it('is the reference table: redirects, then space, admin, live, api, the bucket, and web for the rest', () => {
    assert.deepEqual(planeRouting('uploads'), {
      redirects: [
        { from: '/spaces', to: '/spaces/' },
        { from: '/god-mode', to: '/god-mode/' },
      ],
      routes: [
        { upstream: 'space', paths: ['/spaces/*'] },
        { upstream: 'admin', paths: ['/god-mode/*'] },
        { upstream: 'live', paths: ['/live/*'] },
        { upstream: 'api', paths: ['/api/*', '/auth/*', '/static/*'] },
        { upstream: 'objectStore', paths: ['/uploads', '/uploads/*'] },
        { upstream: 'web', paths: [] },
      ],
    });
  });

  it('renders in that order, after the VPN check, each route to the Service of its component', () => {
    assert.deepEqual(routeLines(caddyfile), [
      'import vpn_only',
      'redir /spaces /spaces/ permanent',
      'redir /god-mode /god-mode/ permanent',
      'reverse_proxy @space plane-space.plane.svc:3000',
      'reverse_proxy @admin plane-admin.plane.svc:3000',
      'reverse_proxy @live plane-live.plane.svc:3000',
      'reverse_proxy @api plane-api.plane.svc:8000',
      'reverse_proxy @object_store plane-object-store.plane.svc:3900',
      'reverse_proxy plane-web.plane.svc:3000',
    ]);
    assert.match(caddyfile, /\n\t@api path \/api\/\* \/auth\/\* \/static\/\*\n/);
    assert.match(caddyfile, /\n\t@object_store path \/uploads \/uploads\/\*\n/);
  });

  it('takes every upstream from a Service of the stack (by reference, not retyped)', () => {
    const services = new Set(
      manifests
        .filter((m) => m.kind === 'Service')
        .flatMap((s) => s.spec.ports.map((p: Manifest) => `${s.metadata.name}.${s.metadata.namespace}.svc:${p.port}`)),
    );
    const upstreams = routeLines(caddyfile)
      .filter((l) => l.startsWith('reverse_proxy'))
      .map((l) => l.split(' ').pop());
    for (const upstream of upstreams) assert.ok(services.has(upstream as string), `${upstream} is no Service port of the stack`);
    const renamed = caddyfileOf(
      synth(
        siteWith((s) => {
          s.kubernetes.namespace = 'plane-staging';
          s.plane.bucket = 'files';
        }),
      ),
    );
    assert.match(renamed, /reverse_proxy @api plane-api\.plane-staging\.svc:8000/);
    assert.match(renamed, /@object_store path \/files \/files\/\*/);
  });

  it("limits request bodies to Plane's FILE_SIZE_LIMIT", () => {
    assert.match(caddyfile, /request_body \{\n\t\tmax_size 5242880\n\t\}/);
    assert.equal(find(manifests, 'ConfigMap', 'plane-api-env').data.FILE_SIZE_LIMIT, '5242880');
    assert.match(
      caddyfileOf(
        synth(
          siteWith((s) => {
            s.plane.fileSizeLimit = 10485760;
          }),
        ),
      ),
      /max_size 10485760\n/,
    );
  });

  it('redirects plain HTTP to https on the public port, with security headers on HTTPS', () => {
    assert.match(
      caddyfile,
      /http:\/\/work\.ewutelo\.cloud \{\n\troute \{\n\t\timport vpn_only\n\t\tredir https:\/\/work\.ewutelo\.cloud\{uri\} permanent/,
    );
    assert.match(caddyfile, /auto_https disable_redirects/);
    for (const header of ['Strict-Transport-Security', 'X-Content-Type-Options', 'X-Frame-Options', 'Referrer-Policy']) {
      assert.match(caddyfile, new RegExp(`\\t\\t\\??${header} "`), header);
    }
  });
});

describe('VPN-only access', () => {
  it("allows the VPN CIDRs and the pod's loopback (port-forward), the pod CIDR to the bucket only, and answers 403 to everyone else, on both sites", () => {
    assert.match(
      caddyfile,
      /\(vpn_only\) \{\n\t@outside_vpn \{\n\t\tnot remote_ip 100\.64\.0\.0\/10 fd7a:115c:a1e0::\/48 127\.0\.0\.1\/32 ::1\/128\n\t\tnot \{\n\t\t\tremote_ip 10\.42\.0\.0\/16\n\t\t\tpath \/uploads\/\*\n\t\t\}\n\t\}\n\trespond @outside_vpn ".*" 403\n\}/,
    );
    assert.equal(importedNames(caddyfile).filter((n) => n === 'vpn_only').length, 2);
  });

  it('imports only snippets the Caddyfile defines', () => {
    assert.deepEqual(definedSnippets(caddyfile).sort(), ['security_headers', 'vpn_only']);
    assert.deepEqual(undefinedSnippetImports(caddyfile), []);
    assert.deepEqual(undefinedSnippetImports('(vpn_only) {\n}\nhost {\n\timport vpn_onyl\n}\n'), ['vpn_onyl']);
  });

  it('follows the site CIDRs', () => {
    const other = caddyfileOf(
      synth(
        siteWith((s) => {
          s.network.vpnCidrs = ['100.64.0.0/16'];
          s.kubernetes.podCidr = '10.52.0.0/16';
        }),
      ),
    );
    assert.match(other, /not remote_ip 100\.64\.0\.0\/16 127\.0\.0\.1\/32 ::1\/128\n\t\tnot \{\n\t\t\tremote_ip 10\.52\.0\.0\/16\n/);
  });

  it('is switched off by vpnEnforce: false (no snippet, no import, no source ranges)', () => {
    const open = synth(
      siteWith((s) => {
        s.edge.vpnEnforce = false;
        s.edge.exposure = 'loadBalancer';
      }),
    );
    const text = caddyfileOf(open);
    assert.doesNotMatch(text, /vpn_only|remote_ip/);
    assert.deepEqual(undefinedSnippetImports(text), []);
    assert.equal(find(open, 'Service', 'plane-caddy').spec.loadBalancerSourceRanges, undefined);
  });
});

describe('exposure', () => {
  it('hostPort (default): 80/443 bound to the VPS VPN address only, pinned to its node, Recreate, ClusterIP Service', () => {
    const ports = caddyContainer(manifests).ports;
    assert.deepEqual(
      ports.filter((p: Manifest) => p.hostPort).map((p: Manifest) => [p.hostIP, p.hostPort, p.containerPort]),
      [
        ['100.64.0.1', 80, 8080],
        ['100.64.0.1', 443, 8443],
      ],
    );
    const { workload, template } = componentTemplate(manifests, 'caddy');
    assert.deepEqual(template.spec.nodeSelector, { 'kubernetes.io/hostname': 'sese' });
    assert.equal(workload.spec.strategy.type, 'Recreate', 'two pods cannot hold the same host port');
    assert.equal(find(manifests, 'Service', 'plane-caddy').spec.type, 'ClusterIP');
  });

  it('listens on high ports with no capability to bind, and keeps only NET_BIND_SERVICE (for the image to exec)', () => {
    const container = caddyContainer(manifests);
    assert.ok(container.ports.every((p: Manifest) => p.containerPort >= 1024));
    assert.deepEqual(container.securityContext.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
    assert.equal(componentTemplate(manifests, 'caddy').template.spec.securityContext.runAsUser, 10080);
  });

  it('loadBalancer: ServiceLB with externalTrafficPolicy Local and the allowed CIDRs as source ranges, no host port', () => {
    const lb = synth(
      siteWith((s) => {
        s.edge.exposure = 'loadBalancer';
      }),
    );
    const service = find(lb, 'Service', 'plane-caddy').spec;
    assert.equal(service.type, 'LoadBalancer');
    assert.equal(service.externalTrafficPolicy, 'Local');
    assert.deepEqual(service.loadBalancerSourceRanges, ['100.64.0.0/10', 'fd7a:115c:a1e0::/48', '10.42.0.0/16']);
    assert.ok(caddyContainer(lb).ports.every((p: Manifest) => p.hostPort === undefined));
    assert.equal(componentTemplate(lb, 'caddy').template.spec.nodeSelector, undefined);
  });

  it('rolls Caddy when its Caddyfile changes (checksum of its own ConfigMaps)', () => {
    const sum = (all: Manifest[]) => componentTemplate(all, 'caddy').template.metadata.annotations['checksum/config'];
    assert.notEqual(
      sum(
        synth(
          siteWith((s) => {
            s.network.vpnCidrs = ['100.64.0.0/10'];
          }),
        ),
      ),
      sum(manifests),
    );
  });
});

describe('TLS modes', () => {
  it('secret (default): the Kubernetes TLS Secret mounted read-only, its files in the Caddyfile', () => {
    assert.match(caddyfile, /\n\ttls \/etc\/caddy\/tls\/tls\.crt \/etc\/caddy\/tls\/tls\.key\n/);
    const pod = componentTemplate(manifests, 'caddy').template.spec;
    assert.deepEqual(
      pod.volumes.find((v: Manifest) => v.name === 'tls'),
      { name: 'tls', secret: { secretName: 'plane-edge-tls' } },
    );
    assert.deepEqual(
      caddyContainer(manifests).volumeMounts.find((m: Manifest) => m.name === 'tls'),
      { mountPath: '/etc/caddy/tls', name: 'tls', readOnly: true },
    );
    // No volume for certificates: the edge's only claim is its audit trail's.
    assert.deepEqual(
      manifests.filter((m) => m.kind === 'PersistentVolumeClaim' && m.metadata.namespace === 'plane-edge').map((m) => m.metadata.name),
      ['plane-caddy-audit-log'],
    );
  });

  it('internal: tls internal, and a volume that keeps the local CA across restarts', () => {
    const internal = synth(
      siteWith((s) => {
        s.edge.tls = { mode: 'internal', storage: '64Mi' };
      }),
    );
    assert.match(caddyfileOf(internal), /\n\ttls internal\n/);
    assert.match(caddyfileOf(internal), /skip_install_trust/);
    const claim = find(internal, 'PersistentVolumeClaim', 'plane-caddy-data');
    assert.equal(claim.spec.resources.requests.storage, '64Mi');
    assert.equal(claim.spec.storageClassName, 'plane-retain');
    const pod = componentTemplate(internal, 'caddy').template.spec;
    assert.equal(pod.volumes.find((v: Manifest) => v.name === 'data').persistentVolumeClaim.claimName, 'plane-caddy-data');
    assert.equal(
      pod.volumes.find((v: Manifest) => v.secret),
      undefined,
    );
  });

  it('acme-dns with an image that has the provider module: DNS-01 with the token from a Secret', () => {
    const acme = synth(
      siteWith((s) => {
        s.edge.caddy.image = 'docker.io/makeplane/plane-proxy:v1.2.2';
        s.edge.tls = {
          mode: 'acme-dns',
          storage: '64Mi',
          acme: { provider: 'cloudflare', email: 'ops@ewutelo.cloud', apiTokenSecret: 'cloudflare' },
        };
      }),
    );
    const text = caddyfileOf(acme);
    assert.match(text, /\n\temail ops@ewutelo\.cloud\n/);
    assert.match(text, /\n\ttls \{\n\t\tdns cloudflare \{env\.DNS_API_TOKEN\}\n\t\}/);
    const token = caddyContainer(acme).env.find((e: Manifest) => e.name === 'DNS_API_TOKEN');
    assert.deepEqual(token.valueFrom.secretKeyRef, { name: 'cloudflare', key: 'api-token' });
  });
});

describe('split DNS', () => {
  it('writes the Headscale extra record for the app host, outside dist/', () => {
    assert.equal(HEADSCALE_RECORDS_FILE.startsWith('dist/'), false);
    assert.deepEqual(JSON.parse(sideFiles(siteWith())[HEADSCALE_RECORDS_FILE]), [
      { name: 'work.ewutelo.cloud', type: 'A', value: '100.64.0.1' },
    ]);
    const other = sideFiles(
      siteWith((s) => {
        s.hosts.app = 'plane';
        s.edge.vpnAddress = '100.64.0.7';
      }),
    );
    assert.deepEqual(JSON.parse(other[HEADSCALE_RECORDS_FILE]), [{ name: 'plane.ewutelo.cloud', type: 'A', value: '100.64.0.7' }]);
  });

  it("sends in-cluster clients to Caddy's Service through k3s' coredns-custom, only when enabled", () => {
    const configMap = find(manifests, 'ConfigMap', 'coredns-custom');
    assert.equal(configMap.metadata.namespace, 'kube-system');
    assert.deepEqual(Object.keys(configMap.data), ['javisi-plane-edge.override']);
    assert.match(
      configMap.data['javisi-plane-edge.override'],
      /^rewrite name exact work\.ewutelo\.cloud plane-caddy\.plane-edge\.svc\.cluster\.local answer auto$/m,
    );
    const off = synth(
      siteWith((s) => {
        s.edge.splitDns.coreDnsOverride = false;
      }),
    );
    assert.equal(off.filter((m) => m.metadata.namespace === 'kube-system').length, 0);
  });
});

describe('edge section of the site file: errors name the field', () => {
  const cases: [string, (s: Manifest) => void, RegExp][] = [
    [
      'unknown TLS mode',
      (s) => {
        s.edge.tls.mode = 'letsencrypt';
      },
      /edge\.tls\.mode: expected secret .*, internal .* or acme-dns/,
    ],
    [
      'acme-dns with the official image (no DNS module)',
      (s) => {
        s.edge.tls = {
          mode: 'acme-dns',
          storage: '64Mi',
          acme: { provider: 'cloudflare', email: 'ops@ewutelo.cloud', apiTokenSecret: 'cf' },
        };
      },
      /edge\.tls\.mode: acme-dns needs the DNS provider module "cloudflare" in the Caddy image, and docker\.io\/library\/caddy:2\.11\.9-alpine has none/,
    ],
    [
      'acme-dns with a provider the image lacks',
      (s) => {
        s.edge.caddy.image = 'docker.io/makeplane/plane-proxy:v1.2.2';
        s.edge.tls = { mode: 'acme-dns', storage: '64Mi', acme: { provider: 'ovh', email: 'ops@ewutelo.cloud', apiTokenSecret: 'cf' } };
      },
      /has only cloudflare, digitalocean/,
    ],
    [
      'secret mode without a Secret name',
      (s) => {
        delete s.edge.tls.secretName;
      },
      /edge\.tls\.secretName: missing: tls mode secret needs/,
    ],
    [
      'a field the mode does not use',
      (s) => {
        s.edge.tls.storage = '64Mi';
      },
      /edge\.tls\.storage: not used by tls mode secret: remove it/,
    ],
    [
      'internal mode without storage',
      (s) => {
        s.edge.tls = { mode: 'internal' };
      },
      /edge\.tls\.storage: missing: tls mode internal/,
    ],
    [
      'VPN address outside the VPN CIDRs',
      (s) => {
        s.edge.vpnAddress = '192.168.1.10';
      },
      /edge\.vpnAddress: 192\.168\.1\.10 is not inside network\.vpnCidrs/,
    ],
    [
      'VPN address that is a CIDR',
      (s) => {
        s.edge.vpnAddress = '100.64.0.0/10';
      },
      /edge\.vpnAddress: expected an IPv4 address/,
    ],
    [
      'unknown exposure',
      (s) => {
        s.edge.exposure = 'nodePort';
      },
      /edge\.exposure: expected hostPort .* or loadBalancer/,
    ],
    [
      'vpnEnforce as text',
      (s) => {
        s.edge.vpnEnforce = 'yes';
      },
      /edge\.vpnEnforce: expected true or false/,
    ],
    [
      'floating Caddy tag',
      (s) => {
        s.edge.caddy.image = 'docker.io/library/caddy:2-alpine';
      },
      /edge\.caddy\.image: tag "2-alpine" is not pinned/,
    ],
    [
      "Caddy in Plane's namespace",
      (s) => {
        s.edge.namespace = 'plane';
      },
      /edge\.namespace: must differ from kubernetes\.namespace/,
    ],
    [
      'misspelt key',
      (s) => {
        s.edge.vpnEnforced = true;
      },
      /edge\.vpnEnforced: unknown key.*vpnEnforce/,
    ],
    [
      'bucket named like a Plane route',
      (s) => {
        s.plane.bucket = 'static';
      },
      /plane\.bucket: is a path Plane's proxy sends to its apps/,
    ],
  ];
  for (const [title, change, expected] of cases) {
    it(title, () => assert.throws(() => siteWith(change), expected));
  }

  it('the renderer refuses an empty allow-list (everyone would get 403)', () => {
    const options = siteCaddyfileOptions(siteWith(), {
      web: { host: 'w', port: 1 },
      space: { host: 's', port: 1 },
      admin: { host: 'a', port: 1 },
      live: { host: 'l', port: 1 },
      api: { host: 'p', port: 1 },
      objectStore: { host: 'o', port: 1 },
    });
    assert.throws(() => renderCaddyfile({ ...options, allowedCidrs: [] }), /allowedCidrs is empty/);
  });
});
