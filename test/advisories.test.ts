/**
 * The advisories file (security/plane-advisories.yaml) and what verify makes of it: a bad entry is
 * refused with one line, a version's open advisories follow from the fixes, and the warning names the
 * release that fixes them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { compareTags } from '../lib/config/plane-releases';
import { affects, exposureOf, loadAdvisories, MITIGATIONS } from '../lib/plane/advisories';
import { judgeAdvisories } from '../ops/advisories-check';
import { REPO_ROOT } from './helpers';

const FILE = path.join(REPO_ROOT, 'security', 'plane-advisories.yaml');
const advisories = loadAdvisories(FILE);

/** The file with a change, loaded from a scratch copy. */
function loadChanged(change: (tree: { advisories: Record<string, unknown>[]; releases: unknown[] }) => void) {
  const tree = parse(fs.readFileSync(FILE, 'utf8'));
  change(tree);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'advisories-'));
  const file = path.join(dir, 'plane-advisories.yaml');
  fs.writeFileSync(file, stringify(tree));
  try {
    return loadAdvisories(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('Plane advisories', () => {
  it('the file reads, names only known releases and defences, and has entries for the deployed version', () => {
    assert.ok(advisories.advisories.length > 10);
    for (const a of advisories.advisories) {
      for (const m of a.mitigatedBy ?? []) assert.ok(m in MITIGATIONS, `${a.id}: ${m}`);
    }
    assert.ok(exposureOf(advisories, 'v1.2.2').open.length > 0);
  });

  for (const [title, change, expected] of [
    [
      'a fix in a release the file does not list',
      (t: { advisories: Record<string, unknown>[] }) => (t.advisories[0].fixedIn = 'v1.9.0'),
      /^security\/plane-advisories\.yaml: advisories\.0\.fixedIn: v1\.9\.0 is not in releases$/,
    ],
    [
      'a mitigated advisory that names no defence',
      (t: { advisories: Record<string, unknown>[] }) => delete t.advisories[0].mitigatedBy,
      /mitigated advisory names the defences it relies on/,
    ],
    [
      'an unfixed advisory without a note',
      (t: { advisories: Record<string, unknown>[] }) => {
        t.advisories[0].fixedIn = null;
        delete t.advisories[0].fixNote;
      },
      /no fixing release needs a fixNote/,
    ],
    [
      'a defence verify does not know',
      (t: { advisories: Record<string, unknown>[] }) => (t.advisories[0].mitigatedBy = ['firewall']),
      /^security\/plane-advisories\.yaml: advisories\.0\.mitigatedBy\.0: /,
    ],
  ] as const) {
    it(`refuses ${title}, in one line`, () => {
      assert.throws(
        () => loadChanged(change as never),
        (error: Error) => expected.test(error.message) && !error.message.includes('\n'),
      );
    });
  }

  it("a version's open advisories are those not fixed by it and not mitigated here; a later version loses the ones its release fixes", () => {
    const at122 = exposureOf(advisories, 'v1.2.2');
    for (const a of at122.open) {
      assert.ok(affects(a, 'v1.2.2'), a.id);
      assert.ok(a.exposure === 'open' || a.exposure === 'low', a.id);
    }
    for (const a of at122.mitigated) assert.ok((a.mitigatedBy ?? []).length > 0, a.id);
    for (const release of advisories.releases.map((r) => r.tag)) {
      const later = exposureOf(advisories, release);
      const expected = at122.open.filter((a) => a.fixedIn === null || compareTags(a.fixedIn, release) > 0).map((a) => a.id);
      assert.deepEqual(later.open.map((a) => a.id).sort(), expected.sort(), release);
    }
    const newest = advisories.releases
      .map((r) => r.tag)
      .sort(compareTags)
      .at(-1) as string;
    assert.deepEqual(
      exposureOf(advisories, newest)
        .open.map((a) => a.id)
        .sort(),
      at122.unfixed.map((a) => a.id).sort(),
      'the newest release still has only the ones no release fixes',
    );
    assert.equal(at122.nearest?.tag, 'v1.2.3', 'the release right after the deployed one');
    // The recommendation is the newest supported release, whatever the advisories file lists beyond it.
    assert.deepEqual(exposureOf(advisories, 'v1.2.2', ['v1.2.2', 'v1.2.3']).recommended, {
      tag: 'v1.2.3',
      fixes: exposureOf(advisories, 'v1.2.2').nearest?.fixes,
    });
    assert.equal(exposureOf(advisories, 'v1.3.1', ['v1.2.2', 'v1.2.3', 'v1.3.1']).recommended, undefined, 'none later is supported');
    const viaV150 = exposureOf(advisories, 'v1.2.2', ['v1.2.2', 'v1.5.0']).recommended;
    assert.equal(viaV150?.fixes, at122.open.filter((a) => a.fixedIn !== null && compareTags(a.fixedIn, 'v1.5.0') <= 0).length);
    assert.ok(at122.fixesMost && at122.fixesMost.fixes === at122.open.length - at122.unfixed.length);
  });

  it('verify warns with the count, the worst first and the release that fixes most; passes once none is open', () => {
    const exposure = exposureOf(advisories, 'v1.2.2');
    const judged = judgeAdvisories('v1.2.2', advisories);
    assert.equal(judged.status, 'warn');
    assert.match(judged.detail, new RegExp(`^Plane v1\\.2\\.2: ${exposure.open.length} open advisories`));
    assert.ok(judged.detail.includes(`Worst: ${exposure.open[0].id} (`), judged.detail);
    assert.ok(judged.detail.includes(`${exposure.fixesMost?.tag} fixes ${exposure.fixesMost?.fixes}`), judged.detail);
    const recommended = exposure.recommended;
    assert.ok(recommended, 'a later supported release');
    assert.ok(
      judged.detail.endsWith(`. Recommended: ${recommended.tag}, the newest release this project supports (fixes ${recommended.fixes})`),
      judged.detail,
    );
    assert.equal(judged.fix, `plane-k3s upgrade --rehearse ${recommended.tag}, then docs/runbook.md "Upgrade"`);
    const cvss = exposure.open.filter((a) => a.exposure === 'open').map((a) => a.cvss ?? 0);
    assert.deepEqual(cvss.slice(0, 3), [...cvss].sort((a, b) => b - a).slice(0, 3), 'the worst are the highest scores');
    const none = loadChanged((t) => (t.advisories = t.advisories.filter((a) => a.exposure === 'mitigated')));
    assert.equal(judgeAdvisories('v1.2.2', none).status, 'pass');
  });
});
