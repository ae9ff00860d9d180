/**
 * The site file is the operator's only input: every dangerous value is refused with one line naming the
 * field and what to write instead, and legitimate values are accepted. In-process, through the real
 * loader and schema (test/synth-command.test.ts runs a few through the synth process as a user does).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseSiteConfig, SiteConfigError } from '../lib/config/load-site-config';
import { schedulePeriodMs } from '../ops/verify';
import { defaultSiteYaml, Manifest, synth, useExternal } from './helpers';

/** The problems a site file is refused for; [] when it is accepted. */
function problemsOf(content: string | Buffer): string[] {
  try {
    parseSiteConfig(content, 'site.yaml');
    return [];
  } catch (error) {
    if (error instanceof SiteConfigError) return [...error.problems];
    throw error;
  }
}

function changed(change: (site: Manifest) => void): string {
  const tree = defaultSiteYaml() as Manifest;
  change(tree);
  return stringify(tree);
}

interface Case {
  readonly title: string;
  readonly change: (site: Manifest) => void;
  /** One refusal that names the field. */
  readonly expected: RegExp;
}

function refuses(cases: readonly Case[]): void {
  for (const { title, change, expected } of cases) {
    it(title, () => {
      const problems = problemsOf(changed(change));
      assert.ok(
        problems.some((p) => expected.test(p)),
        `expected a problem matching ${expected}, got:\n${problems.join('\n') || '(accepted)'}`,
      );
      for (const problem of problems) {
        assert.match(problem, /^[a-zA-Z][^:\n]*: \S/, 'each problem starts with the field path');
        assert.doesNotMatch(problem, /\n/, 'one line per problem');
      }
    });
  }
}

describe('site file: refused values name the field and the fix', () => {
  describe('basic types and spelling', () =>
    refuses([
      {
        title: 'misspelt top-level key',
        change: (s) => {
          s.domian = s.domain;
        },
        expected: /^domian: unknown key/,
      },
      {
        title: 'misspelt nested key, with the right spellings',
        change: (s) => {
          s.components.api.replica = 2;
        },
        expected: /^components\.api\.replica: unknown key.*replicas/,
      },
      {
        title: 'replicas as text',
        change: (s) => {
          s.components.web.replicas = 'two';
        },
        expected: /^components\.web\.replicas: .*found the string "two"/,
      },
      {
        title: 'zero replicas',
        change: (s) => {
          s.components.space.replicas = 0;
        },
        expected: /^components\.space\.replicas: expected at least 1/,
      },
      {
        title: 'unquoted whole CPU says to quote it',
        change: (s) => {
          s.components.api.resources.limits.cpu = 1;
        },
        expected: /^components\.api\.resources\.limits\.cpu: expected text, found the number 1: quote it, e\.g\. "1"/,
      },
      {
        title: 'a section that is a list',
        change: (s) => {
          s.vps = ['sese'];
        },
        expected: /^vps: expected object, found a list/,
      },
      {
        title: 'missing section',
        change: (s) => {
          delete s.vps.budget;
        },
        expected: /^vps\.budget: missing/,
      },
      {
        title: 'memory in prose',
        change: (s) => {
          s.components.api.resources.limits.memory = '1 GB';
        },
        expected: /^components\.api\.resources\.limits\.memory: expected a quantity/,
      },
      {
        title: 'request above limit',
        change: (s) => {
          s.components.api.resources.requests.memory = '2Gi';
        },
        expected: /^components\.api\.resources\.requests\.memory: request 2Gi is above the limit 1Gi/,
      },
      {
        title: 'not a domain',
        change: (s) => {
          s.domain = 'Ewutelo_cloud';
        },
        expected: /^domain: expected a DNS name/,
      },
      {
        title: 'host label with a dot',
        change: (s) => {
          s.hosts.app = 'work.plane';
        },
        expected: /^hosts\.app: expected a DNS label/,
      },
      {
        title: 'bad email',
        change: (s) => {
          s.users.admin.email = 'mobuone-at-ewutelo';
        },
        expected: /^users\.admin\.email: expected an email/,
      },
      {
        title: 'unknown role',
        change: (s) => {
          s.users.agents[2].role = 'Owner';
        },
        expected: /^users\.agents\[2\]\.role: expected Admin, Member or Guest/,
      },
      {
        title: 'Redis DB index out of range',
        change: (s) => {
          s.plane.redisDb = 16;
        },
        expected: /^plane\.redisDb: expected a Redis database index 0-15/,
      },
      {
        title: 'invalid bucket name',
        change: (s) => {
          s.plane.bucket = 'Uploads_';
        },
        expected: /^plane\.bucket: expected an S3 bucket name/,
      },
      {
        title: "an empty name, in the file's terms",
        change: (s) => {
          s.project.displayName = '';
        },
        expected: /^project\.displayName: expected a value, found an empty text$/,
      },
      {
        title: "a name too long, in the file's terms",
        change: (s) => {
          s.plane.workspace.name = 'n'.repeat(81);
        },
        expected: /^plane\.workspace\.name: expected at most 80 characters$/,
      },
      {
        title: 'workspace slug Plane refuses',
        change: (s) => {
          s.plane.workspace.slug = 'god-mode';
        },
        expected: /^plane\.workspace\.slug: is a route of Plane's web app/,
      },
    ]));

  describe('1. system namespaces', () =>
    refuses([
      ...['kube-system', 'kube-public', 'kube-node-lease', 'default'].map((ns): Case => ({
        title: `kubernetes.namespace ${ns}`,
        change: (s) => {
          s.kubernetes.namespace = ns;
        },
        expected: new RegExp(`^kubernetes\\.namespace: "${ns}" is a namespace of the cluster itself`),
      })),
      {
        title: 'edge.namespace kube-system',
        change: (s) => {
          s.edge.namespace = 'kube-system';
        },
        expected: /^edge\.namespace: "kube-system" is a namespace of the cluster itself/,
      },
      {
        title: 'edge.namespace default',
        change: (s) => {
          s.edge.namespace = 'default';
        },
        expected: /^edge\.namespace: "default" is a namespace of the cluster itself/,
      },
      {
        title: 'the two namespaces equal',
        change: (s) => {
          s.edge.namespace = s.kubernetes.namespace;
        },
        expected: /^edge\.namespace: must differ from kubernetes\.namespace/,
      },
    ]));

  describe('2. CIDRs that open everything, and the SSRF guard', () =>
    refuses([
      {
        title: 'a /0 VPN range',
        change: (s) => {
          s.network.vpnCidrs = ['0.0.0.0/0'];
        },
        expected: /^network\.vpnCidrs\[0\]: 0\.0\.0\.0\/0 contains public addresses.*vpnEnforce: false/,
      },
      {
        title: 'an IPv6 /0 VPN range',
        change: (s) => {
          s.network.vpnCidrs[1] = '::/0';
        },
        expected: /^network\.vpnCidrs\[1\]: ::\/0 contains public addresses/,
      },
      {
        title: 'a VPN range wider than CGNAT',
        change: (s) => {
          s.network.vpnCidrs[0] = '96.0.0.0/4';
        },
        expected: /^network\.vpnCidrs\[0\]: 96\.0\.0\.0\/4 contains public addresses/,
      },
      {
        title: 'a public VPN range',
        change: (s) => {
          s.network.vpnCidrs[0] = '137.74.0.0/16';
        },
        expected: /^network\.vpnCidrs\[0\]: .*contains public addresses/,
      },
      {
        title: 'a pod CIDR of /0',
        change: (s) => {
          s.kubernetes.podCidr = '0.0.0.0/0';
        },
        expected: /^kubernetes\.podCidr: 0\.0\.0\.0\/0 contains public addresses/,
      },
      {
        title: 'an empty SSRF guard',
        change: (s) => {
          s.network.workerEgress.blockedCidrs = [];
        },
        expected: /^network\.workerEgress\.blockedCidrs: expected the ranges the worker must never reach/,
      },
      {
        title: 'a /0 exception the API server rejects',
        change: (s) => {
          s.network.workerEgress.blockedCidrs.push('0.0.0.0/0');
        },
        expected: /^network\.workerEgress\.blockedCidrs\[\d+\]: a \/0 cannot be an exception of 0\.0\.0\.0\/0/,
      },
      {
        title: 'the metadata range left out',
        change: (s) => {
          s.network.workerEgress.blockedCidrs = s.network.workerEgress.blockedCidrs.filter((c: string) => c !== '169.254.0.0/16');
        },
        expected: /^network\.workerEgress\.blockedCidrs: must block 169\.254\.0\.0\/16 \(SSRF guard\)/,
      },
      {
        title: 'the pod CIDR left out',
        change: (s) => {
          s.kubernetes.podCidr = '192.168.0.0/16';
          s.network.workerEgress.blockedCidrs = [
            '10.0.0.0/8',
            '100.64.0.0/10',
            '127.0.0.0/8',
            '169.254.0.0/16',
            '172.16.0.0/12',
            '192.168.128.0/17',
          ];
        },
        expected: /^network\.workerEgress\.blockedCidrs: must block 192\.168\.0\.0\/16/,
      },
      {
        title: 'an IPv6 entry in the IPv4 guard',
        change: (s) => {
          s.network.workerEgress.blockedCidrs.push('fc00::/7');
        },
        expected: /^network\.workerEgress\.blockedCidrs\[\d+\]: expected a CIDR such as 100\.64\.0\.0\/10: expected an IPv4 address/,
      },
    ]));

  describe('3. non-canonical addresses', () =>
    refuses([
      {
        title: 'leading zeros in a CIDR, with no suggestion',
        change: (s) => {
          s.kubernetes.podCidr = '010.042.0.0/16';
        },
        expected:
          /^kubernetes\.podCidr: expected a CIDR such as 100\.64\.0\.0\/10: expected an IPv4 or IPv6 address in canonical form (?!.*did you mean)/,
      },
      {
        title: 'hex octets',
        change: (s) => {
          s.vps.addresses = ['0x89.74.114.167'];
        },
        expected: /^vps\.addresses\[0\]: expected an IPv4 address in canonical form/,
      },
      {
        title: 'a short form',
        change: (s) => {
          s.edge.vpnAddress = '100.1';
        },
        expected: /^edge\.vpnAddress: expected an IPv4 address in canonical form/,
      },
      {
        title: 'a leading-zero prefix length',
        change: (s) => {
          s.network.vpnCidrs[0] = '100.64.0.0/010';
        },
        expected: /^network\.vpnCidrs\[0\]: .*the prefix length must be 0-32/,
      },
      {
        title: 'IPv6 not in canonical form',
        change: (s) => {
          s.network.vpnCidrs[1] = 'FD7A:115C:A1E0:0::/48';
        },
        expected: /^network\.vpnCidrs\[1\]: .*canonical form: fd7a:115c:a1e0::/,
      },
      {
        title: 'host bits, with the suggestion computed from canonical input',
        change: (s) => {
          s.kubernetes.podCidr = '10.42.0.1/16';
        },
        expected: /^kubernetes\.podCidr: host bits are set: did you mean 10\.42\.0\.0\/16\?/,
      },
      {
        title: 'prefix out of range',
        change: (s) => {
          s.network.vpnCidrs[0] = '100.64.0.0/33';
        },
        expected: /^network\.vpnCidrs\[0\]: .*prefix length must be 0-32/,
      },
    ]));

  describe('4. addresses that cannot or must not be used', () =>
    refuses([
      ...[
        ['0.0.0.0', 'unspecified'],
        ['127.0.0.1', 'loopback'],
        ['169.254.169.254', 'link-local'],
        ['224.0.0.1', 'multicast'],
        ['255.255.255.255', 'broadcast'],
      ].map(([address, what]): Case => ({
        title: `external PostgreSQL on a ${what} address`,
        change: (s) => {
          useExternal(s, 'postgres', { address, port: 5432 });
        },
        expected: new RegExp(`^data\\.postgres\\.external\\.address: ${address.replace(/\./g, '\\.')} is (the|a) ${what}`),
      })),
      {
        title: 'external Redis inside the pod CIDR',
        change: (s) => {
          useExternal(s, 'redis', { address: '10.42.3.4', port: 6379 });
        },
        expected: /^data\.redis\.external\.address: 10\.42\.3\.4 is inside kubernetes\.podCidr/,
      },
      {
        title: 'external Redis inside the service CIDR',
        change: (s) => {
          useExternal(s, 'redis', { address: '10.43.0.20', port: 6379 });
        },
        expected: /^data\.redis\.external\.address: 10\.43\.0\.20 is inside kubernetes\.serviceCidr/,
      },
      {
        title: 'VPN address that is the network address',
        change: (s) => {
          s.edge.vpnAddress = '100.64.0.0';
        },
        expected: /^edge\.vpnAddress: 100\.64\.0\.0 is the network address of 100\.64\.0\.0\/10/,
      },
      {
        title: 'VPN address that is the broadcast address',
        change: (s) => {
          s.edge.vpnAddress = '100.127.255.255';
        },
        expected: /^edge\.vpnAddress: 100\.127\.255\.255 is the broadcast address/,
      },
      {
        title: 'VPN address outside the VPN',
        change: (s) => {
          s.edge.vpnAddress = '137.74.114.167';
        },
        expected: /^edge\.vpnAddress: 137\.74\.114\.167 is not inside network\.vpnCidrs/,
      },
    ]));

  describe('data services: in the cluster or elsewhere, one explicit choice', () =>
    refuses([
      {
        title: 'external with the in-cluster volume left in',
        change: (s) => {
          s.data.postgres.external = { address: '137.74.114.167', port: 5432 };
        },
        expected: /^data\.postgres\.storage: not used with external \(the PostgreSQL is elsewhere\): remove it$/,
      },
      {
        title: 'external Redis with its maxmemory left in',
        change: (s) => {
          s.data.redis.external = { address: '137.74.114.167', port: 6379 };
          delete s.data.redis.storage;
          delete s.data.redis.resources;
        },
        expected: /^data\.redis\.maxMemory: not used with external/,
      },
      {
        title: 'in the cluster without a volume',
        change: (s) => {
          delete s.data.objectStore.storage;
        },
        expected: /^data\.objectStore\.storage: missing: an in-cluster object store needs it \(or set external/,
      },
    ]));

  describe('5. values that end up in names or labels', () =>
    refuses([
      {
        title: 'an image tag longer than a label value',
        change: (s) => {
          s.images.redis = `docker.io/valkey/valkey:8.1.${'8'.repeat(70)}`;
        },
        expected: /^images\.redis: tag "8\.1\.8+…" cannot be the version label/,
      },
      {
        title: 'an image tag ending with a dot',
        change: (s) => {
          s.images.postgres = 'docker.io/library/postgres:18.6.';
        },
        expected: /^images\.postgres: tag "18\.6\." cannot be the version label/,
      },
      {
        title: 'a Plane release the project does not support',
        change: (s) => {
          s.images.plane.tag = 'v1.3.0';
        },
        expected:
          /^images\.plane\.tag: "v1\.3\.0" is not a Plane release this project supports: use v1\.2\.2, v1\.2\.3, v1\.3\.1 \(a new release .*checked against its code/,
      },
      {
        title: 'a floating Plane tag',
        change: (s) => {
          s.images.plane.tag = 'latest';
        },
        expected: /^images\.plane\.tag: "latest" is not a Plane release this project supports: use v1\.2\.2/,
      },
      {
        title: 'a digest in the shared Plane tag',
        change: (s) => {
          s.images.plane.tag = `v1.2.2@sha256:${'a'.repeat(64)}`;
        },
        expected: /^images\.plane\.tag: a digest pins one image and Plane has five: .*images\.plane\.digests/,
      },
      {
        title: 'an app host longer than 253 characters',
        change: (s) => {
          s.domain = Array.from({ length: 4 }, () => 'd'.repeat(62)).join('.');
        },
        expected: /^hosts\.app: the app host .* is longer than 253 characters/,
      },
      {
        title: 'a domain that is an IP address',
        change: (s) => {
          s.domain = '137.74.114.167';
        },
        expected: /^domain: expected a DNS name such as ewutelo\.cloud, not an IP address/,
      },
      {
        title: 'empty DNS pod labels',
        change: (s) => {
          s.network.clusterDns.podLabels = {};
        },
        expected: /^network\.clusterDns\.podLabels: expected at least one label/,
      },
      {
        title: 'a DNS pod label key with spaces',
        change: (s) => {
          s.network.clusterDns.podLabels = { 'k8s app': 'kube-dns' };
        },
        expected: /^network\.clusterDns\.podLabels(\.k8s app)?: .*label key "k8s app" is not valid/,
      },
      {
        title: 'a DNS pod label value with a slash',
        change: (s) => {
          s.network.clusterDns.podLabels = { 'k8s-app': 'kube/dns' };
        },
        expected: /^network\.clusterDns\.podLabels\.k8s-app: expected a label value/,
      },
      {
        title: 'a node name longer than a label value',
        change: (s) => {
          s.vps.hostname = 'n'.repeat(70);
        },
        expected: /^vps\.hostname: expected at most 63 characters/,
      },
    ]));

  describe('6. quantities that defeat the resource promises', () =>
    refuses([
      {
        title: 'zero CPU request',
        change: (s) => {
          s.components.web.resources.requests.cpu = '0';
        },
        expected: /^components\.web\.resources\.requests\.cpu: expected a CPU quantity of at least 1m/,
      },
      {
        title: 'zero CPU limit',
        change: (s) => {
          s.components.web.resources.limits.cpu = '0m';
        },
        expected: /^components\.web\.resources\.limits\.cpu: expected a CPU quantity of at least 1m/,
      },
      {
        title: 'zero memory limit',
        change: (s) => {
          s.components.api.resources.limits.memory = '0Mi';
        },
        expected: /^components\.api\.resources\.limits\.memory: expected a quantity above zero/,
      },
      {
        title: 'zero storage',
        change: (s) => {
          s.data.postgres.storage = '0Gi';
        },
        expected: /^data\.postgres\.storage: expected a quantity above zero/,
      },
      {
        title: 'an absurd storage size',
        change: (s) => {
          s.data.postgres.storage = '99999999999Ti';
        },
        expected: /^data\.postgres\.storage: expected a quantity of at most 1Pi/,
      },
      {
        title: 'Redis maxMemory at the container limit',
        change: (s) => {
          s.data.redis.maxMemory = '192mb';
        },
        expected: /^data\.redis\.maxMemory: 192mb does not fit the container limit 192Mi/,
      },
      {
        title: 'RabbitMQ limit too small for a watermark',
        change: (s) => {
          s.data.rabbitmq.resources.limits.memory = '1Mi';
          s.data.rabbitmq.resources.requests.memory = '1Mi';
        },
        expected: /^data\.rabbitmq\.resources\.limits\.memory: 1Mi is too little for RabbitMQ/,
      },
      {
        title: 'a budget above the VPS CPUs',
        change: (s) => {
          s.vps.budget.cpu = '6';
        },
        expected: /^vps\.budget\.cpu: 6 is more than the VPS has \(vps\.cpu: 4\)/,
      },
      {
        title: 'a budget above the VPS memory',
        change: (s) => {
          s.vps.budget.memory = '16Gi';
        },
        expected: /^vps\.budget\.memory: 16Gi is more than the VPS has/,
      },
    ]));

  describe('7. users', () =>
    refuses([
      {
        title: 'duplicate agent id',
        change: (s) => {
          s.users.agents[1].id = s.users.agents[0].id;
        },
        expected: /^users\.agents\[1\]\.id: duplicate agent id "concierge" \(also users\.agents\[0\]\)/,
      },
      {
        title: 'e-mails differing only in case',
        change: (s) => {
          s.users.agents[1].email = s.users.agents[0].email.toUpperCase();
        },
        expected: /^users\.agents\[1\]\.email: duplicate agent email/,
      },
      {
        title: "an agent with the admin's e-mail",
        change: (s) => {
          s.users.agents[3].email = 'Mobuone@Ewutelo.cloud';
        },
        expected: /^users\.agents\[3\]\.email: "Mobuone@Ewutelo\.cloud" is the admin's e-mail/,
      },
      {
        title: 'an id ending with "-"',
        change: (s) => {
          s.users.agents[0].id = 'concierge-';
        },
        expected: /^users\.agents\[0\]\.id: expected a short lowercase id/,
      },
      {
        title: 'an id with a capital',
        change: (s) => {
          s.users.agents[0].id = 'Concierge';
        },
        expected: /^users\.agents\[0\]\.id: expected a short lowercase id/,
      },
    ]));
});

describe('site file: issue 17, classes of dangerous values', () => {
  const S3 = { endpoint: 'https://s3.eu-west-3.example.org', credentialsSecret: 'plane-s3', cidrs: ['198.51.100.0/24'] };
  const OFFSITE = { ...S3, bucket: 'javisi-backups', region: 'eu-west-3' };
  /** Each URL field of the schema, set to `endpoint`. */
  const urlFields: [string, (s: Manifest, endpoint: string) => void][] = [
    [
      'data.objectStore.external.endpoint',
      (s, endpoint) => {
        useExternal(s, 'objectStore', { ...S3, endpoint });
      },
    ],
    [
      'backup.offsite.endpoint',
      (s, endpoint) => {
        s.backup.offsite = { ...OFFSITE, endpoint };
      },
    ],
  ];
  /** Each egress destination list of the schema, set to `cidrs`. */
  const egressLists: [string, (s: Manifest, cidrs: string[]) => void][] = [
    [
      'data.objectStore.external.cidrs',
      (s, cidrs) => {
        useExternal(s, 'objectStore', { ...S3, cidrs });
      },
    ],
    [
      'backup.offsite.cidrs',
      (s, cidrs) => {
        s.backup.offsite = { ...OFFSITE, cidrs };
      },
    ],
  ];
  const re = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

  describe('10. URLs: no credentials, query or fragment, host and port only', () => {
    refuses(
      urlFields.flatMap(([field, set]): Case[] =>
        [
          ['credentials', 'https://AKIAEXAMPLE:wJalrXUtnFEMI@s3.example.org', 'must not hold credentials'],
          ['a user name alone', 'https://AKIAEXAMPLE@s3.example.org', 'must not hold credentials'],
          ['credentials with a "/" in the password', 'https://AKIAEXAMPLE:wJal/rXUtn@s3.example.org', 'must not hold credentials'],
          ['a query', 'https://s3.example.org/?X-Amz-Credential=AKIAEXAMPLE', 'must not have a query'],
          ['a fragment', 'https://s3.example.org#top', 'must not have a query \\(\\?…\\) or fragment'],
          ['a path the bucket would be appended to', 'https://s3.example.org/uploads', 'must not have a path'],
          ['port 0', 'https://s3.example.org:0', 'expected .*https:// URL.*: the port must be 1-65535'],
          ['a single-label host', 'https://minio', 'expected .*https:// URL.*: the host must be a lowercase DNS name'],
          ['the metadata address', 'https://169.254.169.254', "the endpoint's host: 169\\.254\\.169\\.254 is a link-local address"],
          ['an address outside its cidrs', 'https://203.0.113.9', "the endpoint's host: 203\\.0\\.113\\.9 is a reserved or documentation"],
          [
            'an address the NetworkPolicy does not open',
            'https://51.38.1.2',
            "the endpoint's address 51\\.38\\.1\\.2 is not inside cidrs: add 51\\.38\\.1\\.2/32",
          ],
        ].map(([what, endpoint, message]) => ({
          title: `${field}: ${what}`,
          change: (s) => set(s, endpoint),
          expected: new RegExp(`^${re(field)}: ${message}`),
        })),
      ),
    );

    it('never repeats the credential in a message', () => {
      for (const [, set] of urlFields) {
        const problems = problemsOf(changed((s) => set(s, 'https://AKIAEXAMPLE:wJalrXUtnFEMI@s3.example.org/x?y#z')));
        assert.ok(problems.length > 0);
        for (const problem of problems) assert.doesNotMatch(problem, /AKIAEXAMPLE|wJalrXUtnFEMI/);
      }
    });

    it('accepts a host with a port, a trailing "/", and an address inside its cidrs', () => {
      for (const [, set] of urlFields) {
        for (const endpoint of ['https://s3.eu-west-3.example.org:8443', 'https://s3.example.org/', 'https://198.51.99.7']) {
          assert.deepEqual(
            problemsOf(
              changed((s) => {
                set(s, endpoint);
                if (endpoint.includes('198.51.99.7')) {
                  const target = s.backup.offsite?.endpoint === endpoint ? s.backup.offsite : s.data.objectStore.external;
                  target.cidrs = ['198.51.99.0/24'];
                }
              }),
            ),
            [],
            endpoint,
          );
        }
      }
    });
  });

  describe('11. one address policy: egress destinations and host addresses', () => {
    refuses([
      ...egressLists.flatMap(([field, set]): Case[] =>
        [
          ['the whole internet', '0.0.0.0/0', '0\\.0\\.0\\.0/0 is the whole internet'],
          ['a /11', '52.0.0.0/11', '52\\.0\\.0\\.0/11 is wider than /12'],
          [
            'the metadata address',
            '169.254.169.254/32',
            '169\\.254\\.169\\.254/32 overlaps 169\\.254\\.0\\.0/16 \\(link-local, the cloud metadata endpoint\\)',
          ],
          ['loopback', '127.0.0.1/32', '127\\.0\\.0\\.1/32 overlaps 127\\.0\\.0\\.0/8 \\(loopback\\)'],
          ['"this" network', '0.0.0.0/32', '0\\.0\\.0\\.0/32 overlaps 0\\.0\\.0\\.0/8'],
          ['multicast', '224.0.0.0/24', '224\\.0\\.0\\.0/24 overlaps 224\\.0\\.0\\.0/4 \\(multicast\\)'],
          ['the broadcast address', '255.255.255.255/32', '255\\.255\\.255\\.255/32 overlaps 240\\.0\\.0\\.0/4'],
          ['the pod range', '10.42.0.0/16', '10\\.42\\.0\\.0/16 overlaps kubernetes\\.podCidr \\(10\\.42\\.0\\.0/16\\)'],
          ['a part of the pod range', '10.42.7.0/24', '10\\.42\\.7\\.0/24 overlaps kubernetes\\.podCidr'],
          [
            'a range holding the service range',
            '10.32.0.0/12',
            '10\\.32\\.0\\.0/12 overlaps kubernetes\\.serviceCidr \\(10\\.43\\.0\\.0/16\\)',
          ],
          [
            'the VPN',
            '100.64.0.0/12',
            "100\\.64\\.0\\.0/12 overlaps network\\.vpnCidrs\\[0\\] \\(100\\.64\\.0\\.0/10\\), the VPN's machines",
          ],
        ].map(([what, cidr, message]) => ({
          title: `${field}: ${what}`,
          change: (s) => set(s, ['198.51.100.0/24', cidr]),
          expected: new RegExp(`^${re(field)}\\[1\\]: ${message}`),
        })),
      ),
      ...[
        ['0.0.0.0', 'the unspecified address'],
        ['255.255.255.255', 'the broadcast address'],
        ['224.0.0.1', 'a multicast address'],
        ['127.0.0.1', 'a loopback address'],
        ['169.254.169.254', 'a link-local address'],
      ].map(([address, what]): Case => ({
        title: `vps.addresses: ${what}`,
        change: (s) => {
          s.vps.addresses.push(address);
        },
        expected: new RegExp(`^vps\\.addresses\\[1\\]: ${re(address)} is ${what}.*: list the node's own addresses`),
      })),
      {
        title: 'vps.addresses: an address inside the pod range',
        change: (s) => {
          s.vps.addresses = ['10.42.0.9'];
        },
        expected: /^vps\.addresses\[0\]: 10\.42\.0\.9 is inside kubernetes\.podCidr \(10\.42\.0\.0\/16\)/,
      },
    ]);

    it('accepts a provider range up to /12, and one server on the VPN as a /32', () => {
      for (const [, set] of egressLists) {
        for (const cidrs of [['104.16.0.0/13'], ['52.208.0.0/12'], ['100.64.0.7/32'], ['192.168.1.0/24']]) {
          assert.deepEqual(problemsOf(changed((s) => set(s, cidrs))), [], cidrs.join());
        }
      }
    });
  });

  describe('12. cron schedules, as the API server and plane-k3s verify read them', () => {
    const schedule = (value: string) => (s: Manifest) => {
      s.backup.schedule = value;
    };
    const PREFIX = 'expected a five-field cron schedule such as "30 2 \\* \\* \\*" \\(UTC\\)';
    refuses(
      [
        ['61 2 * * *', `${PREFIX}: a field is out of range: minute 61 is above 59`],
        ['0 24 * * *', `${PREFIX}: a field is out of range: hour 24 is above 23`],
        ['0 2 0 * *', `${PREFIX}: a field is out of range: day of month 0 is below 1`],
        ['0 2 32 * *', `${PREFIX}: a field is out of range: day of month 32 is above 31`],
        ['0 2 * 0 *', `${PREFIX}: a field is out of range: month 0 is below 1`],
        ['0 2 * 13 *', `${PREFIX}: a field is out of range: month 13 is above 12`],
        ['0 2 * * 7', `${PREFIX}: a field is out of range: day of week 7 is above 6 .*Sunday is 0`],
        ['0 2 * * 1-7', `${PREFIX}: a field is out of range: day of week 7 is above 6`],
        ['0-60 2 * * *', `${PREFIX}: a field is out of range: minute 60 is above 59`],
        ['*/60 * * * *', `${PREFIX}: a field is out of range: minute step 60 is longer than 0-59 and keeps only 0`],
        ['0 */24 * * *', `${PREFIX}: a field is out of range: hour step 24`],
        ['*/0 * * * *', `${PREFIX}: the minute step in "\\*/0" is 0`],
        ['5-1 * * * *', `${PREFIX}: the minute range "5-1" runs backwards`],
        ['1-2-3 * * * *', `${PREFIX}: the minute "1-2-3" has more than one "-"`],
        ['*/2/3 * * * *', `${PREFIX}: the minute "\\*/2/3" has more than one "/"`],
        ['0 2 * * MONDAY', `${PREFIX}: the day of week "MONDAY" is not a number or a name`],
        ['0 2 * JANUARY *', `${PREFIX}: the month "JANUARY" is not a number or a name`],
        ['MON 2 * * *', `${PREFIX}: the minute "MON" is not a number \\(0-59\\)`],
        ['0 2 L * *', `${PREFIX}: the day of month "L" is not a number`],
        ['0 2 * * 1#2', `${PREFIX}: the day of week "1#2" is not a number`],
        ['H 2 * * *', `${PREFIX}: the minute "H" is not a number`],
        ['+5 2 * * *', `${PREFIX}: the minute "\\+5" is not a number`],
        ['0,,30 2 * * *', `${PREFIX}: the minute "0,,30" has an empty entry`],
        ['0 0 2 * * *', `${PREFIX}, found 6 fields \\(there is no seconds field`],
        ['0 2 * *', `${PREFIX}, found 4 fields`],
        ['daily', `${PREFIX}, found 1 field$`],
        ['0 2 30 2 *', '"0 2 30 2 \\*" never runs: none of its months has day 30'],
        ['0 2 31 4,6,9,11 *', '"0 2 31 4,6,9,11 \\*" never runs'],
        ['0 2 30 2 1', '"0 2 30 2 1" is valid for Kubernetes but plane-k3s verify\'s cron reader'],
        ['TZ=Europe/Paris 30 2 * * *', "must not set TZ= or CRON_TZ=: the CronJob's timeZone is Etc/UTC"],
        ['CRON_TZ=UTC 30 2 * * *', 'must not set TZ= or CRON_TZ='],
        ['@midnight', "@midnight is @daily, a name plane-k3s verify's cron reader does not know: write @daily"],
        ['@every 24h', '"@every 24h" is an interval'],
        ['@reboot', '"@reboot" is not a macro Kubernetes knows'],
        ['@weekdays', '"@weekdays" is not a macro Kubernetes knows'],
      ].map(([value, message]): Case => ({
        title: `backup.schedule ${JSON.stringify(value)}`,
        change: schedule(value),
        expected: new RegExp(`^backup\\.schedule: ${message}`),
      })),
    );

    const ACCEPTED = [
      '30 2 * * *',
      '*/15 * * * *',
      '0 1-5/2 * * *',
      '5/15 * * * *',
      '0 2 * * MON',
      '0 2 * * mon-fri',
      '0 2 * * Sun',
      '0 2 1 JAN *',
      '0 2 1 jan-jun/2 *',
      '0 2 * * 0-6/2',
      '0 2 1,15 * *',
      '0 2 29 2 *',
      '0 2 ? * 0',
      '05 02 * * *',
      '59 23 31 12 6',
      '0-59/59 * * * *',
      '@yearly',
      '@annually',
      '@monthly',
      '@weekly',
      '@daily',
      '@hourly',
    ];
    it('accepts ranges, steps, names, "?" and the macros both readers know, and plane-k3s verify gets their period', () => {
      for (const value of ACCEPTED) {
        assert.deepEqual(problemsOf(changed(schedule(value))), [], value);
        assert.ok(schedulePeriodMs(value) > 0, value);
        assert.deepEqual(problemsOf(changed((s) => (s.backup.drill.schedule = value))), [], `drill ${value}`);
      }
    });
  });

  describe('13. ranges, caps, images and quantities refused nowhere before', () =>
    refuses([
      {
        title: 'a pod range inside the VPN',
        change: (s) => {
          s.kubernetes.podCidr = '100.100.0.0/16';
        },
        expected:
          /^kubernetes\.podCidr: 100\.100\.0\.0\/16 overlaps network\.vpnCidrs\[0\] \(100\.64\.0\.0\/10\): cluster and VPN addresses must be distinct/,
      },
      {
        title: 'a VPN range holding the pod range',
        change: (s) => {
          s.network.vpnCidrs[0] = '10.0.0.0/8';
          s.edge.vpnAddress = '10.8.0.1';
        },
        expected: /^kubernetes\.podCidr: 10\.42\.0\.0\/16 overlaps network\.vpnCidrs\[0\] \(10\.0\.0\.0\/8\)/,
      },
      {
        title: 'a service range inside the VPN',
        change: (s) => {
          s.kubernetes.serviceCidr = '100.96.0.0/16';
        },
        expected: /^kubernetes\.serviceCidr: 100\.96\.0\.0\/16 overlaps network\.vpnCidrs\[0\]/,
      },
      {
        title: 'an IPv6 service range inside the IPv6 VPN',
        change: (s) => {
          s.kubernetes.serviceCidr = 'fd7a:115c:a1e0:1::/112';
        },
        expected: /^kubernetes\.serviceCidr: fd7a:115c:a1e0:1::\/112 overlaps network\.vpnCidrs\[1\]/,
      },
      {
        title: 'the service range equal to the pod range',
        change: (s) => {
          s.kubernetes.serviceCidr = s.kubernetes.podCidr;
        },
        expected: /^kubernetes\.serviceCidr: 10\.42\.0\.0\/16 is also kubernetes\.podCidr: Services need a range of their own/,
      },
      {
        title: 'the service range inside the pod range',
        change: (s) => {
          s.kubernetes.serviceCidr = '10.42.128.0/17';
        },
        expected: /^kubernetes\.serviceCidr: 10\.42\.128\.0\/17 overlaps kubernetes\.podCidr \(10\.42\.0\.0\/16\)/,
      },
      ...[786432, 800000].map((cap): Case => ({
        title: `a worker memory cap of ${cap} KiB with a 768Mi limit`,
        change: (s) => {
          s.components.worker.maxMemoryPerChildKiB = cap;
        },
        expected: new RegExp(
          `^components\\.worker\\.maxMemoryPerChildKiB: ${cap} KiB is not below the worker's memory limit 768Mi \\(786432 KiB\\)`,
        ),
      })),
      {
        title: 'a worker limit lowered under the cap',
        change: (s) => {
          s.components.worker.resources.limits.memory = '128M';
          s.components.worker.resources.requests.memory = '128M';
        },
        expected: /^components\.worker\.maxMemoryPerChildKiB: 200000 KiB is not below the worker's memory limit 128M \(125000 KiB\)/,
      },
      ...[
        ['docker.io/..', 'the path segment "\\.\\." is not valid'],
        ['docker.io/makeplane/', 'it has an empty path segment'],
        ['docker.io//makeplane', 'it has an empty path segment'],
        ['docker.io:65536/makeplane', 'the registry port "65536" is not a port 1-65535'],
        ['docker.io:0/makeplane', 'the registry port "0" is not a port 1-65535'],
        ['docker.io/MakePlane', 'the path segment "MakePlane" has capitals'],
        ['Docker.io/makeplane', 'the registry host "Docker\\.io" is not a host name'],
        ['makeplane', '"makeplane" is not a registry host'],
        ['-docker.io/makeplane', 'the registry host "-docker\\.io" is not a host name'],
        ['docker..io/makeplane', 'the registry host "docker\\.\\.io" is not a host name'],
      ].map(([registry, message]): Case => ({
        title: `images.plane.registry ${registry}`,
        change: (s) => {
          s.images.plane.registry = registry;
        },
        expected: new RegExp(`^images\\.plane\\.registry: expected a registry path such as docker\\.io/makeplane: ${message}`),
      })),
      ...[
        ['docker.io/../postgres:18.6-alpine', 'the path segment "\\.\\." is not valid'],
        ['docker.io/library//postgres:18.6-alpine', 'it has an empty path segment'],
        ['registry.example.org:99999/postgres:18.6-alpine', 'the registry port "99999" is not a port 1-65535'],
        ['docker.io/Library/postgres:18.6-alpine', 'the path segment "Library" has capitals'],
        ['docker.io/library/Postgres:18.6-alpine', 'the path segment "Postgres" has capitals'],
        ['docker.io/library/postgres:18.6-alpine@sha256:abc', 'the digest is not sha256:<64 hex digits>'],
        ['docker.io/library/postgres:', 'the tag "" is not valid'],
      ].map(([reference, message]): Case => ({
        title: `images.postgres ${reference}`,
        change: (s) => {
          s.images.postgres = reference;
        },
        expected: new RegExp(
          `^images\\.postgres: expected an image reference such as docker\\.io/library/postgres:18\\.1-alpine: ${message}`,
        ),
      })),
      ...[
        ['components.api.resources.requests.memory', '0.5', '0\\.5 is less than one byte'],
        [
          'components.api.resources.requests.memory',
          '1m',
          '"1m" is thousandths of a byte \\(m means milli\\): write Mi or M, e\\.g\\. 1Mi',
        ],
        ['components.api.resources.limits.memory', '512m', '"512m" is thousandths of a byte'],
        ['vps.memory', '0.5', '0\\.5 is less than one byte'],
        ['vps.budget.memory', '2.5', '2\\.5 is not a whole number of bytes'],
        ['data.postgres.storage', '0.1Ki', '0\\.1Ki is not a whole number of bytes: write a whole number of bytes'],
        ['backup.storage', '20000m', '"20000m" is thousandths of a byte'],
        ['edge.caddy.resources.limits.memory', '0.0001k', '0\\.0001k is less than one byte'],
      ].map(([field, value, message]): Case => ({
        title: `${field} ${value}`,
        change: (s) => {
          const path = field.split('.');
          const parent = path.slice(0, -1).reduce((node: Manifest, key) => node[key], s);
          parent[path[path.length - 1]] = value;
        },
        expected: new RegExp(`^${re(field)}: ${message}`),
      })),
    ]));

  it('13. accepts fractions that are whole bytes', () => {
    assert.deepEqual(
      problemsOf(
        changed((s) => {
          s.components.api.resources.limits.memory = '1.5Gi';
          s.vps.budget.memory = '3.1G';
          s.data.postgres.storage = '1.1k';
        }),
      ),
      [],
    );
  });
});

describe('site file: legitimate values are accepted and reach the manifests', () => {
  const accepts = (change: (s: Manifest) => void) => {
    const problems = problemsOf(changed(change));
    assert.deepEqual(problems, []);
    return parseSiteConfig(changed(change));
  };

  it('8. dotted storage class and node names (DNS subdomains)', () => {
    const site = accepts((s) => {
      s.kubernetes.storageClass = 'local-path.rancher.io';
      s.vps.hostname = 'sese.ewutelo.cloud';
    });
    const manifests = synth(site);
    const claims = manifests.filter((m) => m.kind === 'StatefulSet').flatMap((m) => m.spec.volumeClaimTemplates);
    assert.ok(claims.length > 0 && claims.every((c) => c.spec.storageClassName === 'local-path.rancher.io'));
    const caddy = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'plane-caddy') as Manifest;
    assert.equal(caddy.spec.template.spec.nodeSelector['kubernetes.io/hostname'], 'sese.ewutelo.cloud');
  });

  it('8. Plane images pinned by digest, one digest per image', () => {
    const backend = `sha256:${'b'.repeat(64)}`;
    const frontend = `sha256:${'f'.repeat(64)}`;
    const manifests = synth(
      accepts((s) => {
        s.images.plane.digests = { backend, frontend };
      }),
    );
    const images = manifests
      .filter((m) => m.kind === 'Deployment' || m.kind === 'Job')
      .map((m) => m.spec.template.spec.containers[0].image as string);
    assert.ok(images.includes(`docker.io/makeplane/plane-backend:v1.2.2@${backend}`));
    assert.ok(images.includes(`docker.io/makeplane/plane-frontend:v1.2.2@${frontend}`));
    assert.ok(images.includes('docker.io/makeplane/plane-space:v1.2.2'), 'an image without a digest keeps its tag alone');
  });

  it('8. other images pinned by digest', () => {
    accepts((s) => {
      s.images.postgres = `docker.io/library/postgres:18.6-alpine@sha256:${'c'.repeat(64)}`;
    });
  });

  it('a VPN of private space, a /32 VPN address range, and IPv6 written canonically', () => {
    accepts((s) => {
      s.network.vpnCidrs = ['10.8.0.0/24', 'fd00::/8'];
      s.edge.vpnAddress = '10.8.0.1';
    });
    accepts((s) => {
      s.network.vpnCidrs = ['100.64.0.1/32'];
      s.edge.vpnAddress = '100.64.0.1';
    });
  });

  it('an external server on the VPS itself (its public address) or on the VPN', () => {
    accepts((s) => {
      useExternal(s, 'postgres', { address: '137.74.114.167', port: 5432 });
      useExternal(s, 'redis', { address: '100.64.0.5', port: 6379 });
    });
  });
});

describe('site file: what a refused file never shows', () => {
  it('an empty file says so', () => {
    assert.deepEqual(problemsOf(''), ['the file is empty: start from a copy of site/javisi.yaml']);
    assert.deepEqual(problemsOf('\n  \n'), ['the file is empty: start from a copy of site/javisi.yaml']);
  });

  it('a file that is not UTF-8 says so', () => {
    assert.deepEqual(problemsOf(Buffer.from([0xff, 0xfe, 0x70, 0x00])), ['the file is not UTF-8 text: save it as UTF-8']);
  });

  it('a file that is not a map says so', () => {
    assert.match(problemsOf('- project\n- domain\n')[0], /^expected a YAML map of sections .* found a list$/);
    assert.match(problemsOf('just a sentence\n')[0], /^expected a YAML map of sections .* found a string$/);
  });

  it('a YAML alias bomb is refused without expanding it', () => {
    // Each level repeats the previous one nine times: 9^8 values if expanded.
    const names = 'abcdefgh'.split('');
    const levels = names.map(
      (name, i) =>
        `${name}: &${name} [${Array(9)
          .fill(i === 0 ? 'x' : `*${names[i - 1]}`)
          .join(', ')}]`,
    );
    const started = Date.now();
    assert.deepEqual(problemsOf(levels.join('\n')), ['YAML: Excessive alias count indicates a resource exhaustion attack']);
    assert.ok(Date.now() - started < 5000);
  });

  it('a huge value is cut in the message', () => {
    const problems = problemsOf(
      changed((s) => {
        s.domain = 'x'.repeat(2_000_000 / 8);
      }),
    );
    assert.ok(problems.length > 0);
    for (const problem of problems) assert.ok(problem.length <= 301, `a ${problem.length}-character message`);
  });

  it('a file above the size a site file needs is refused before parsing', () => {
    assert.match(problemsOf('a'.repeat(300 * 1024))[0], /longer than a site file needs/);
  });

  it('a key written twice is reported as YAML', () => {
    assert.match(problemsOf('project:\n  name: javisi\n  name: other\n')[0], /^YAML syntax: .*unique/i);
  });
});
