/**
 * The runbook's backup and restore commands ("Backups and the restore drill", without plane-k3s) on a real API server: a backup now from the CronJob, and the
 * restore block as written (kwok runs no container, so the `kubectl logs` line, which needs a kubelet,
 * is the one line not run; the scripts themselves run against a real PostgreSQL in test/postgres/).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { synthesize } from '../../lib/synth';
import { buildStack } from '../../main';
import { Manifest, REPO_ROOT, siteWith, useExternal } from '../helpers';
import { DOC_COMMANDS } from '../readme';
import { scratchDir, TestCluster } from './harness';

const NAMESPACE = 'plane';
const WRITERS = ['plane-api', 'plane-worker', 'plane-beat-worker', 'plane-live'];

describe('backups on a real control plane', { concurrency: 1 }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = TestCluster.start();
    cluster.kubectlOk(['apply', '-f', path.join(REPO_ROOT, 'dist')]);
    await cluster.waitUntilSettled(NAMESPACE);
  });

  after(() => cluster?.stop());

  const shell = (script: string) =>
    spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${path.dirname(cluster.kubectlPath)}:${process.env.PATH}`, KUBECONFIG: cluster.kubeconfig },
    });
  const replicas = async () =>
    Object.fromEntries(
      await Promise.all(
        WRITERS.map(async (name) => [name, (await cluster.apps.readNamespacedDeployment({ name, namespace: NAMESPACE })).spec?.replicas]),
      ),
    );

  it('the backup, restore and rehearsal CronJobs are admitted; the restore and rehearsal templates never run by themselves', async () => {
    const cronJobs = JSON.parse(cluster.kubectlOk(['get', 'cronjobs', '-n', NAMESPACE, '-o', 'json']).stdout).items as Manifest[];
    assert.deepEqual(cronJobs.map((c) => [c.metadata.name, c.spec.suspend]).sort(), [
      ['plane-backup', false],
      ['plane-backup-drill', false],
      ['plane-backup-rehearsal', true],
      ['plane-backup-restore', true],
    ]);
  });

  it('takes a backup now, as the runbook says', async () => {
    const command = DOC_COMMANDS.backupNow();
    const result = shell(command);
    assert.equal(result.status, 0, result.stderr);
    const job = await cluster.batch.readNamespacedJob({ name: 'plane-backup-now', namespace: NAMESPACE });
    assert.equal(job.metadata?.ownerReferences?.[0]?.name, 'plane-backup');
    await cluster.waitUntilSettled(NAMESPACE);
  });

  it("runs the runbook's restore block: Plane stopped, a restore Job for the chosen backup, Plane back", async () => {
    const block = DOC_COMMANDS.restoreBlock().text;
    // Joined continuation lines, then one command per line; `kubectl logs` needs a kubelet.
    const commands = block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const skipped = commands.filter((c) => / logs /.test(c));
    assert.deepEqual(skipped, ['kubectl -n plane logs job/plane-restore --all-containers']);
    for (const command of commands.filter((c) => !skipped.includes(c))) {
      if (command.startsWith('kubectl apply -f dist')) {
        assert.deepEqual(Object.values(await replicas()), [0, 0, 0, 0], 'Plane is stopped while the restore runs');
        const job = await cluster.batch.readNamespacedJob({ name: 'plane-restore', namespace: NAMESPACE });
        // kubectl set env reaches every step, the unpack (an init container) first of all.
        const steps = [...(job.spec?.template.spec?.initContainers ?? []), ...(job.spec?.template.spec?.containers ?? [])];
        assert.deepEqual(
          steps.map((c) => [c.name, c.env?.find((e) => e.name === 'RESTORE_BACKUP')?.value]),
          [
            ['unpack', 'latest'],
            ['restore-postgres', 'latest'],
            ['restore-uploads', 'latest'],
          ],
        );
      }
      const result = shell(command);
      assert.equal(result.status, 0, `${command}\n${result.stderr}`);
    }
    await cluster.waitUntilSettled(NAMESPACE);
    assert.deepEqual(Object.values(await replicas()), [1, 1, 1, 1], 'Plane runs again');
    // The restore changed nothing the next apply would undo: no drift on the CronJob.
    const diff = cluster.kubectl(['diff', '-f', path.join(REPO_ROOT, 'dist', '0009-backup.k8s.yaml')]);
    assert.equal(diff.code, 0, diff.stdout);
  });

  it('with a shared PostgreSQL: the bootstrap Job is admitted under restricted, and a second apply changes nothing', async () => {
    const outdir = path.join(scratchDir('plane-shared-pg-'), 'dist');
    synthesize(buildStack, {
      site: siteWith((s) => {
        useExternal(s, 'postgres', { address: '137.74.114.167', port: 5432, adminSecret: 'shared-postgres-admin' });
      }),
      outdir,
    });
    // The shared server replaces the in-cluster one: its StatefulSet goes, its claim stays (guarded data).
    cluster.kubectlOk(['delete', 'statefulset', 'plane-postgres', '-n', NAMESPACE]);
    const apply = cluster.kubectlOk(['apply', '-f', outdir]);
    assert.doesNotMatch(apply.stderr, /warning|PodSecurity|violate/i, apply.stderr);
    await cluster.waitUntilSettled(NAMESPACE);
    const pods = (await cluster.core.listNamespacedPod({ namespace: NAMESPACE })).items.map((p) => p.metadata?.name ?? '');
    assert.ok(
      pods.some((p) => p.startsWith('plane-postgres-bootstrap-')),
      `${pods}`,
    );
    const again = cluster.kubectlOk(['apply', '-f', outdir]).stdout.trim().split('\n');
    assert.deepEqual(
      again.filter((l) => !l.endsWith(' unchanged')),
      [],
    );
  });
});
