/**
 * The expected network matrix (network/expected-connections.yaml): loading, expansion into single
 * connections, and its Mermaid drawing for docs/network.md.
 */
import * as fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { findUpwards } from '../paths';

export const MATRIX_FILE = findUpwards(__dirname, 'network/expected-connections.yaml');

/** Every component of the stack, in the `all-pods` sense. */
export const ALL_PODS = 'all-pods';
export const CLUSTER_DNS = 'cluster-dns';

const portPattern = /^(TCP|UDP) \d{1,5}$/;
const matrixSchema = z.strictObject({
  ranges: z.record(z.string(), z.string()),
  connections: z.array(
    z.strictObject({
      from: z.string().min(1),
      to: z.string().min(1),
      ports: z.array(z.string().regex(portPattern, 'expected "TCP 8000" or "UDP 53"')).min(1),
      /** A connection that exists only in a variant of the site, e.g. "shared-postgres". */
      only: z.string().optional(),
    }),
  ),
});

export type ExpectedMatrix = z.infer<typeof matrixSchema>;

export function loadExpectedMatrix(file: string = MATRIX_FILE): ExpectedMatrix {
  return matrixSchema.parse(parse(fs.readFileSync(file, 'utf8')));
}

/**
 * One allowed connection as "from -> to : TCP 8000", `all-pods` expanded to each component; rows marked
 * `only` count in those variants alone.
 */
export function expandMatrix(matrix: ExpectedMatrix, components: readonly string[], variants: readonly string[] = []): Set<string> {
  const expand = (end: string) => (end === ALL_PODS ? components : [end]);
  const connections = new Set<string>();
  for (const c of matrix.connections.filter((row) => !row.only || variants.includes(row.only))) {
    for (const from of expand(c.from))
      for (const to of expand(c.to)) for (const port of c.ports) connections.add(`${from} -> ${to} : ${port}`);
  }
  return connections;
}

/** The seed's zones, for grouping the drawing. */
const ZONES: Record<string, string[]> = {
  'outside the cluster': ['vpn', 'internet', 'kube-apiserver'],
  'frontend zone': ['caddy', 'web', 'space', 'admin', 'live'],
  'backend zone': [
    'api',
    'beat-worker',
    'migrator',
    'provisioning',
    'secrets-bootstrap',
    'backup',
    'restore',
    'drill',
    'rehearsal',
    'postgres-bootstrap',
    'postgres',
    'redis',
    'rabbitmq',
    'object-store',
  ],
  'egress zone': ['worker'],
};

/** A Mermaid flowchart of the matrix: one edge per connection line, grouped by zone. */
export function renderMermaid(matrix: ExpectedMatrix): string {
  const id = (name: string) => name.replace(/[^a-zA-Z0-9]/g, '_');
  const label = (name: string) => matrix.ranges[name] ?? name;
  const lines = ['flowchart LR'];
  const placed = new Set<string>();
  for (const [zone, members] of Object.entries(ZONES)) {
    lines.push(`  subgraph ${id(zone)} ["${zone}"]`);
    for (const member of members) {
      lines.push(`    ${id(member)}["${label(member)}"]`);
      placed.add(member);
    }
    lines.push('  end');
  }
  for (const end of matrix.connections.flatMap((c) => [c.from, c.to])) {
    if (!placed.has(end)) {
      lines.push(`  ${id(end)}["${end === ALL_PODS ? 'every pod' : label(end)}"]`);
      placed.add(end);
    }
  }
  for (const c of matrix.connections) {
    const ports = c.ports.join(', ');
    lines.push(`  ${id(c.from)} -->|${ports}| ${id(c.to)}`);
  }
  return lines.join('\n');
}
