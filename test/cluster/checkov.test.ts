/**
 * checkov (PyPI) on dist/: zero findings but those accepted, with their reasons, in
 * tools/checkov/accepted-findings.yaml; an accepted entry that no longer matches fails too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers';

interface Accepted {
  check: string;
  resources: '*' | string[];
  reason: string;
}
interface Finding {
  check_id: string;
  resource: string;
}

describe('checkov on dist/', () => {
  it('finds nothing but the accepted findings, each still needed and explained', () => {
    const checkov = execFileSync(path.join(REPO_ROOT, 'tools', 'checkov', 'install.sh'), { encoding: 'utf8' }).trim();
    let output: string;
    try {
      output = execFileSync(
        checkov,
        ['-d', path.join(REPO_ROOT, 'dist'), '--framework', 'kubernetes', '--skip-download', '-o', 'json', '--quiet'],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
    } catch (error) {
      // checkov exits 1 when it finds anything; the JSON is still on stdout.
      output = (error as { stdout: string }).stdout;
    }
    const report = JSON.parse(output);
    const { results, summary } = Array.isArray(report) ? report[0] : report;
    assert.ok(summary.passed > 100 && summary.parsing_errors === 0, `checkov checked too little to be trusted: ${JSON.stringify(summary)}`);
    const failed = ((results.failed_checks ?? []) as Finding[]).map((f) => ({ check: f.check_id, resource: f.resource }));

    const accepted = parse(fs.readFileSync(path.join(REPO_ROOT, 'tools', 'checkov', 'accepted-findings.yaml'), 'utf8')) as Accepted[];
    const isAccepted = (f: { check: string; resource: string }) =>
      accepted.some((a) => a.check === f.check && (a.resources === '*' || a.resources.includes(f.resource)));
    assert.deepEqual(
      failed.filter((f) => !isAccepted(f)),
      [],
      'new checkov findings: fix them, or accept them with a reason',
    );
    for (const entry of accepted) {
      assert.ok(entry.reason?.length > 20, `${entry.check} has no reason`);
      const matches = failed.filter((f) => f.check === entry.check && (entry.resources === '*' || entry.resources.includes(f.resource)));
      assert.ok(matches.length > 0, `${entry.check} is accepted but no longer found: remove it`);
      if (entry.resources !== '*') {
        for (const resource of entry.resources)
          assert.ok(
            matches.some((m) => m.resource === resource),
            `${entry.check} for ${resource} is no longer found`,
          );
      }
    }
  });
});
