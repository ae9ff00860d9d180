/**
 * The upgrade rehearsal's decisions (ops/upgrade.ts): which targets it refuses, the image it runs, the
 * snapshot it takes from the backup's log, what the target fixes. The Jobs themselves run in
 * test/postgres (the copy's server), test/plane (the target's real migrations) and test/cluster (the CLI).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareTags } from '../lib/config/plane-releases';
import { exposureOf, loadAdvisories } from '../lib/plane/advisories';
import { Stack } from '../ops/stack';
import { V1CronJob } from '@kubernetes/client-node';
import { jobFromCronJob } from '../ops/jobs';
import { advisoriesFixedBy, judgeRehearsal, refuseTarget, snapshotOf, targetImage, withTargetImage } from '../ops/upgrade';
import { find, synth } from './helpers';

const stack = Stack.load();

describe('plane-k3s upgrade --rehearse', () => {
  it('rehearses only a later release: Plane migrates forward', () => {
    assert.equal(refuseTarget('v1.2.2', 'v1.2.3'), undefined);
    assert.equal(refuseTarget('v1.2.2', 'v1.10.0'), undefined, 'compared as numbers, not text');
    assert.match(refuseTarget('v1.2.2', 'v1.2.2') ?? '', /a later release/);
    assert.match(refuseTarget('v1.3.1', 'v1.2.3') ?? '', /the site runs Plane v1\.3\.1/);
    assert.match(refuseTarget('v1.2.2', 'stable') ?? '', /expected a Plane release such as v1\.3\.1, got "stable"/);
    assert.match(refuseTarget('v1.2.2', 'v1.3') ?? '', /expected a Plane release/);
  });

  it("runs the target's backend image from the site's registry, or the image given (a digest pins it)", () => {
    assert.equal(targetImage({ stack }, { target: 'v1.3.1' }), 'docker.io/makeplane/plane-backend:v1.3.1');
    const pinned = `registry.example/plane-backend:v1.3.1@sha256:${'a'.repeat(64)}`;
    assert.equal(targetImage({ stack }, { target: 'v1.3.1', image: pinned }), pinned);
  });

  it("makes the rehearsal Job from the template with the target's image on the migration step only, the backup and target in every step's env", () => {
    const cron = find(synth(), 'CronJob', 'plane-backup-rehearsal') as unknown as V1CronJob;
    cron.metadata = { ...cron.metadata, uid: 'uid-1' };
    const job = jobFromCronJob(cron, 'plane-backup-rehearsal-rehearse-20261206120000', {
      RESTORE_BACKUP: '4f2a9c1e',
      REHEARSAL_TARGET: 'v1.3.1',
    });
    const before = [...(job.spec?.template.spec?.initContainers ?? []), ...(job.spec?.template.spec?.containers ?? [])].map((c) => [
      c.name,
      c.image,
    ]);
    withTargetImage(job, 'docker.io/makeplane/plane-backend:v1.3.1');
    const containers = [...(job.spec?.template.spec?.initContainers ?? []), ...(job.spec?.template.spec?.containers ?? [])];
    assert.deepEqual(
      containers.map((c) => [c.name, c.image]),
      before.map(([name, image]) => [name, name === 'rehearse-migrate' ? 'docker.io/makeplane/plane-backend:v1.3.1' : image]),
    );
    for (const c of containers) {
      const env = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
      assert.equal(env.RESTORE_BACKUP, '4f2a9c1e', c.name);
      assert.equal(env.REHEARSAL_TARGET, 'v1.3.1', c.name);
    }
    const template = structuredClone(job);
    template.spec!.template.spec!.containers = template.spec!.template.spec!.containers.filter((c) => c.name !== 'rehearse-migrate');
    assert.throws(
      () => withTargetImage(template, 'x:1'),
      /the rehearsal template has no rehearse-migrate container: kubectl apply -f dist/,
    );
  });

  it("takes the snapshot the backup's log names, none when it names none", () => {
    // The backup Job's own lines (lib/data/backup/snapshot.sh), as test/cluster records them.
    const lines = [
      'backup: dumped plane, 2922860 bytes, 1458 entries, 180 tables; Plane v1.2.2, migration db.0120_issueview_archived_at',
      'backup: snapshot 4f2a9c1e, Plane v1.2.2, migration db.0120_issueview_archived_at, 2950000 bytes; 3 snapshots kept (at most 14)',
    ];
    assert.equal(snapshotOf(lines), '4f2a9c1e');
    assert.equal(snapshotOf(lines.slice(0, 1)), undefined);
  });

  it("names how many of the running version's open advisories the target fixes, from security/plane-advisories.yaml", () => {
    const file = loadAdvisories();
    const open = exposureOf(file, 'v1.2.2').open;
    for (const target of ['v1.2.3', 'v1.3.1', 'v1.5.0']) {
      const fixed = open.filter((a) => a.fixedIn !== null && compareTags(a.fixedIn, target) <= 0).length;
      assert.equal(
        advisoriesFixedBy('v1.2.2', target, [target]),
        `${target} fixes ${fixed} of Plane v1.2.2's ${open.length} open advisories`,
      );
    }
    assert.match(advisoriesFixedBy('v1.2.2', 'v1.5.0', ['v1.2.2', 'v1.5.0']), /^v1\.5\.0 fixes [1-9]\d* of/, 'v1.5.0 fixes some');
  });

  it('says when the rehearsed release is not one the project supports (a rehearsal may try it, the synth refuses it)', () => {
    assert.doesNotMatch(advisoriesFixedBy('v1.2.2', 'v1.3.1', ['v1.2.2', 'v1.3.1']), /not a release/);
    assert.match(
      advisoriesFixedBy('v1.2.2', 'v1.5.1', ['v1.2.2', 'v1.3.1']),
      /; v1\.5\.1 is not a release this project supports yet: the synth refuses its tag until it is checked and added \(docs\/configuration\.md "Supported Plane releases"\)$/,
    );
  });

  it('passes a completed rehearsal of the snapshot asked for; fails one that failed, with its last lines, or that unpacked another snapshot', () => {
    const lines = [
      'rehearsal: unpacked snapshot 4f2a9c1e (v1.2.2, dumped 2026-12-06T12:00:00Z)',
      'rehearsal: snapshot 4f2a9c1e restored into a scratch server in 3 s: Plane v1.2.2, migration db.0120_issueview_archived_at, 180 tables with the recorded row counts',
    ];
    const ok = judgeRehearsal(
      { job: 'plane-backup-rehearsal-rehearse-1', done: true, lines, tail: [] },
      '4f2a9c1e',
      21,
      'v1.2.2',
      'v1.3.1',
    );
    assert.equal(ok.status, 'pass');
    assert.match(
      ok.detail,
      /; whole rehearsal 21 s; job\/plane-backup-rehearsal-rehearse-1 deleted, production unchanged\. v1\.3\.1 fixes \d+ of/,
    );
    const traceback = ['django.db.utils.ProgrammingError: permission denied for table issues', lines[1]];
    const failed = judgeRehearsal(
      { job: 'j', done: false, reason: 'BackoffLimitExceeded: Job has reached the specified backoff limit', lines, tail: traceback },
      '4f2a9c1e',
      30,
      'v1.2.2',
      'v1.3.1',
    );
    assert.equal(failed.status, 'fail');
    assert.match(
      failed.detail,
      /^job\/j: BackoffLimitExceeded: .*; its last lines: django\.db\.utils\.ProgrammingError: permission denied for table issues; the Job and its copy deleted, production unchanged$/,
    );
    assert.match(failed.fix ?? '', /do not upgrade before a rehearsal passes/);
    const other = judgeRehearsal({ job: 'j', done: true, lines, tail: [] }, 'deadbeef', 5, 'v1.2.2', 'v1.3.1');
    assert.equal(other.status, 'fail');
    assert.match(other.detail, /its log does not show snapshot deadbeef unpacked/);
  });
});
