/**
 * An independent analyzer proves the policies: np-guard's netpol-analyzer computes every allowed
 * connection of dist/, and the result must equal network/expected-connections.yaml exactly.
 * Needs tools/go-tools/install.sh (run by `npm run test:network`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as ipaddr from 'ipaddr.js';
import { parseAllDocuments } from 'yaml';
import { loadSiteConfig } from '../../lib/config/load-site-config';
import { SiteConfig } from '../../lib/config/site-config';
import { synthesize } from '../../lib/synth';
import { buildStack } from '../../main';
import { CLUSTER_DNS, expandMatrix, loadExpectedMatrix } from '../../lib/network/expected-matrix';
import { REPO_ROOT, siteWith, useExternal } from '../helpers';

const ANALYZER = path.join(
  process.env.PLANE_K3S_CACHE ?? path.join(os.homedir(), '.cache', 'plane-k3s'),
  'go-tools',
  'bin',
  'netpolicy-v1.4.4',
);

interface AnalyzerConnection {
  src: string;
  dst: string;
  conn: string;
}

/** k3s' CoreDNS as the cluster has it (kube-system, k8s-app=kube-dns): not ours, so not in dist/. */
const CLUSTER_DNS_STUB = `apiVersion: apps/v1
kind: Deployment
metadata: { name: coredns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  selector: { matchLabels: { k8s-app: kube-dns } }
  template:
    metadata: { labels: { k8s-app: kube-dns } }
    spec: { containers: [{ name: coredns, image: rancher/mirrored-coredns-coredns:1.12.3 }] }
---
apiVersion: v1
kind: Namespace
metadata: { name: kube-system, labels: { kubernetes.io/metadata.name: kube-system } }
`;

/** An IPv4 interval as [first, last] numbers. */
type Interval = [number, number];

function ipNumber(address: string): number {
  return ipaddr.IPv4.parse(address)
    .toByteArray()
    .reduce((n, byte) => n * 256 + byte, 0);
}

function cidrInterval(cidr: string): Interval {
  const [address, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  const first = ipNumber(address.toString());
  return [first, first + 2 ** (32 - prefix) - 1];
}

/** Union of intervals, merged and sorted. */
function normalize(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const merged: Interval[] = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

function subtract(from: Interval[], remove: Interval[]): Interval[] {
  let result = normalize(from);
  for (const [rs, re] of normalize(remove)) {
    result = result.flatMap(([s, e]): Interval[] => {
      if (re < s || rs > e) return [[s, e]];
      return [...(rs > s ? [[s, rs - 1] as Interval] : []), ...(re < e ? [[re + 1, e] as Interval] : [])];
    });
  }
  return result;
}

/** A named address range; `ports` limits the name to those ports (two external services may share a host). */
interface NamedRange {
  readonly intervals: Interval[];
  readonly ports?: readonly string[];
}

/**
 * A CIDR as netpol-analyzer v1.4.4 reports it. The analyzer models IPv4 only: it reads an IPv6 prefix as
 * the single IPv4 address made of the prefix's first four bytes (fd7a:115c:a1e0::/48 → 253.122.17.92),
 * so IPv6 rules are checked for presence only, not for their extent.
 */
function analyzerInterval(cidr: string): Interval {
  if (!cidr.includes(':')) return cidrInterval(cidr);
  const bytes = ipaddr.IPv6.parse(cidr.split('/')[0]).toByteArray().slice(0, 4);
  const first = bytes.reduce((n, byte) => n * 256 + byte, 0);
  return [first, first];
}

function siteRanges(site: SiteConfig): Record<string, NamedRange> {
  const ranges: Record<string, NamedRange> = {
    vpn: { intervals: normalize(site.network.vpnCidrs.map(analyzerInterval)) },
    pods: { intervals: [cidrInterval(site.kubernetes.podCidr)] },
    internet: {
      intervals: subtract(
        [cidrInterval('0.0.0.0/0')],
        [...site.network.workerEgress.blockedCidrs.map(cidrInterval), ...site.vps.addresses.map((a) => cidrInterval(`${a}/32`))],
      ),
    },
    'kube-apiserver': {
      intervals: normalize(site.vps.addresses.map((a) => cidrInterval(`${a}/32`))),
      ports: [`TCP ${site.kubernetes.apiServerPort}`],
    },
  };
  for (const [name, external] of [
    ['postgres', site.data.postgres.external],
    ['redis', site.data.redis.external],
  ] as const) {
    if (external) ranges[name] = { intervals: [cidrInterval(`${external.address}/32`)], ports: [`TCP ${external.port}`] };
  }
  return ranges;
}

/**
 * Runs the analyzer on a folder of manifests (plus the cluster's DNS) and returns its connections as
 * "from -> to : TCP port" lines; address ranges are gathered per (peer, port) and must add up to
 * exactly one named range. Also returns the components found.
 */
function analyze(distDir: string, site: SiteConfig): { found: Set<string>; components: string[] } {
  assert.ok(fs.existsSync(ANALYZER), `${ANALYZER} is missing: run tools/go-tools/install.sh`);
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-netpol-'));
  for (const file of fs.readdirSync(distDir)) fs.copyFileSync(path.join(distDir, file), path.join(workdir, file));
  fs.writeFileSync(path.join(workdir, 'zz-cluster-dns.yaml'), CLUSTER_DNS_STUB);
  // (--fail would make it print an empty list for a warning about the stub.)
  const output = execFileSync(ANALYZER, ['list', '--dirpath', workdir, '-o', 'json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  fs.rmSync(workdir, { recursive: true, force: true });
  const connections = JSON.parse(output) as AnalyzerConnection[];
  assert.ok(connections.length > 0, 'the analyzer found no connection at all');

  // Workload "ns/name[Kind]" → component name (its app.kubernetes.io/name label).
  const componentOf = new Map<string, string>([['kube-system/coredns[Deployment]', CLUSTER_DNS]]);
  for (const file of fs.readdirSync(distDir)) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(distDir, file), 'utf8'))) {
      const m = doc.toJS();
      const template = m?.kind === 'CronJob' ? m.spec.jobTemplate.spec.template : m?.spec?.template;
      const label = template?.metadata?.labels?.['app.kubernetes.io/name'];
      if (label) componentOf.set(`${m.metadata.namespace}/${m.metadata.name}[${m.kind}]`, label);
    }
  }

  const ranges = siteRanges(site);
  const found = new Set<string>();
  const addressSides = new Map<string, Interval[]>();
  for (const c of connections) {
    const ports =
      c.conn === 'All Connections'
        ? ['ALL']
        : c.conn.split(',').reduce<string[]>((list, part) => {
            const [protocol, port] = part.includes(' ') ? part.split(' ') : [list[list.length - 1]?.split(' ')[0], part];
            list.push(`${protocol} ${port}`);
            return list;
          }, []);
    const src = componentOf.get(c.src);
    const dst = componentOf.get(c.dst);
    // CoreDNS's own traffic is the cluster's business: only what our pods may do matters.
    if (src === CLUSTER_DNS || (dst === CLUSTER_DNS && !src)) continue;
    for (const port of ports) {
      if (src && dst) {
        found.add(`${src} -> ${dst} : ${port}`);
        continue;
      }
      assert.ok(src || dst, `connection between two address ranges: ${JSON.stringify(c)}`);
      const [first, last] = (src ? c.dst : c.src).split('-');
      const key = src ? `${src} -> @ : ${port}` : `@ -> ${dst} : ${port}`;
      addressSides.set(key, [...(addressSides.get(key) ?? []), [ipNumber(first), ipNumber(last ?? first)]]);
    }
  }
  // The analyzer merges the ranges allowed on one port into one list: find the named ranges whose union
  // it is (a handful of names, so every combination can be tried).
  for (const [key, intervals] of addressSides) {
    const union = JSON.stringify(normalize(intervals));
    const port = key.split(' : ')[1];
    const candidates = Object.entries(ranges).filter(([, r]) => !r.ports || r.ports.includes(port));
    let names: string[] | undefined;
    for (let mask = 1; mask < 2 ** candidates.length && !names; mask++) {
      const subset = candidates.filter((_, i) => mask & (2 ** i));
      if (JSON.stringify(normalize(subset.flatMap(([, r]) => r.intervals))) === union) names = subset.map(([name]) => name);
    }
    assert.ok(names, `${key}: the addresses ${union} are no union of the named ranges`);
    for (const name of names) found.add(key.replace('@', name));
  }
  return { found, components: [...new Set([...componentOf.values()].filter((c) => c !== CLUSTER_DNS))] };
}

function assertMatrix(found: Set<string>, components: string[], variants: string[] = []): void {
  const expected = expandMatrix(loadExpectedMatrix(), components, variants);
  const missing = [...expected].filter((c) => !found.has(c)).sort();
  const extra = [...found].filter((c) => !expected.has(c)).sort();
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
}

describe('netpol-analyzer', () => {
  it('finds in dist/ exactly the connections of network/expected-connections.yaml', () => {
    const { found, components } = analyze(path.join(REPO_ROOT, 'dist'), loadSiteConfig());
    assertMatrix(found, components);
  });

  it('with shared PostgreSQL and Redis on the host, finds the same matrix, their address and port only', () => {
    const address = '137.74.114.167';
    const site = siteWith((s) => {
      useExternal(s, 'postgres', { address, port: 5432, adminSecret: 'shared-postgres-admin' });
      useExternal(s, 'redis', { address, port: 6379 });
    });
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-external-'));
    synthesize(buildStack, { site, outdir });
    const { found, components } = analyze(outdir, site);
    fs.rmSync(outdir, { recursive: true, force: true });
    assert.ok(!components.includes('postgres') && !components.includes('redis'), 'no in-cluster postgres or redis');
    assertMatrix(found, components, ['shared-postgres']);
  });
});
