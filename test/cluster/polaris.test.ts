/**
 * Polaris (FairwindsOps, built from the Go module proxy by tools/polaris/install.sh) on a fresh synth
 * of the Javisi site: zero findings but those accepted, with their reasons, in
 * tools/polaris/accepted-findings.yaml; an accepted entry that no longer matches fails too. Starts no
 * cluster: `npm run test:polaris` runs it alone, `npm run test:cluster` with the rest.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { buildStack } from '../../main';
import { synthesize } from '../../lib/synth';
import { REPO_ROOT, siteWith } from '../helpers';

interface Accepted {
  check: string;
  resources: '*' | string[];
  reason: string;
}

/** One failed check: `Kind/namespace/name` (a ConfigMap's, or a container's controller's). */
export interface PolarisFinding {
  readonly check: string;
  readonly severity: string;
  readonly resource: string;
  /** The container, for a container's check. */
  readonly container?: string;
}

interface ResultSet {
  [check: string]: { readonly Success: boolean; readonly Severity: string };
}
interface PolarisReport {
  readonly Score: number;
  readonly Results: readonly {
    readonly Kind: string;
    readonly Name: string;
    readonly Namespace: string;
    readonly Results: ResultSet | null;
    readonly PodResult?: {
      readonly Results: ResultSet | null;
      readonly ContainerResults: readonly { readonly Name: string; readonly Results: ResultSet | null }[] | null;
    } | null;
  }[];
}

/** Every failed check of a Polaris JSON report, whatever level it was made at (object, pod, container). */
export function polarisFindings(report: PolarisReport): PolarisFinding[] {
  const findings: PolarisFinding[] = [];
  for (const r of report.Results) {
    const resource = `${r.Kind}/${r.Namespace}/${r.Name}`;
    const add = (results: ResultSet | null | undefined, container?: string) => {
      for (const [check, result] of Object.entries(results ?? {})) {
        if (!result.Success) findings.push({ check, severity: result.Severity, resource, ...(container ? { container } : {}) });
      }
    };
    add(r.Results);
    add(r.PodResult?.Results);
    for (const c of r.PodResult?.ContainerResults ?? []) add(c.Results, c.Name);
  }
  return findings;
}

describe('Polaris on a fresh synth', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-polaris-'));
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('finds nothing but the accepted findings, each still needed and explained', () => {
    const polaris = execFileSync(path.join(REPO_ROOT, 'tools', 'polaris', 'install.sh'), { encoding: 'utf8' }).trim();
    const dist = path.join(work, 'dist');
    synthesize(buildStack, { site: siteWith(), outdir: dist });
    const output = execFileSync(
      polaris,
      [
        'audit',
        '--audit-path',
        dist,
        '--format',
        'json',
        '--config',
        path.join(REPO_ROOT, 'tools', 'polaris', 'config.yaml'),
        '--merge-config',
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const report = JSON.parse(output) as PolarisReport;
    const workloads = report.Results.filter((r) => r.PodResult);
    assert.ok(workloads.length >= 15, `Polaris audited ${workloads.length} workloads: too few to be trusted`);
    const found = polarisFindings(report);

    const accepted = parse(fs.readFileSync(path.join(REPO_ROOT, 'tools', 'polaris', 'accepted-findings.yaml'), 'utf8')) as Accepted[];
    const covers = (a: Accepted, f: PolarisFinding) => a.check === f.check && (a.resources === '*' || a.resources.includes(f.resource));
    assert.deepEqual(
      found.filter((f) => !accepted.some((a) => covers(a, f))),
      [],
      `new Polaris findings (score ${report.Score}): fix them, or accept them with a reason in tools/polaris/accepted-findings.yaml`,
    );
    for (const entry of accepted) {
      assert.ok(entry.reason?.length > 40, `${entry.check} has no reason`);
      const matches = found.filter((f) => covers(entry, f));
      assert.ok(matches.length > 0, `${entry.check} is accepted but no longer found: remove it`);
      if (entry.resources !== '*') {
        for (const resource of entry.resources) {
          assert.ok(
            matches.some((m) => m.resource === resource),
            `${entry.check} for ${resource} is no longer found`,
          );
        }
      }
    }
  });
});
