/**
 * The backup CronJob and the restore Job's template: schedule and retention from the site, a pg_dump of
 * the server's own image (so of its major), the steps in order, their own volume, secrets by reference,
 * the network flows; the off-site copy only when the site gives a target. (The scripts themselves run
 * against a real PostgreSQL in test/postgres/.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { workloadFootprints } from '../lib/budget';
import { quantityToBytes } from '../lib/config/quantity';
import { find, Manifest, REPO_ROOT, siteWith, synth } from './helpers';

const manifests = synth();
const cronJob = (all: Manifest[], name: string) => find(all, 'CronJob', name);
const podOf = (job: Manifest) => job.spec.jobTemplate.spec.template.spec;
const OFFSITE = { endpoint: 'https://s3.eu-west-3.example.org', bucket: 'javisi-backups', region: 'eu-west-3', credentialsSecret: 'plane-backup-offsite', cidrs: ['198.51.100.0/24'] };

describe('backups', () => {
  it('runs on the site\'s schedule, in UTC, never two at once', () => {
    const job = cronJob(manifests, 'plane-backup');
    assert.equal(job.spec.schedule, '30 2 * * *');
    assert.equal(job.spec.timeZone, 'Etc/UTC');
    assert.equal(job.spec.concurrencyPolicy, 'Forbid');
    assert.equal(job.spec.suspend, undefined);
    assert.equal(find(manifests, 'ConfigMap', 'plane-backup-env').data.BACKUP_KEEP, '14');
  });

  it('dumps with the PostgreSQL server\'s own image, then mirrors the uploads, in that order', () => {
    const pod = podOf(cronJob(manifests, 'plane-backup'));
    const server = find(manifests, 'StatefulSet', 'plane-postgres').spec.template.spec.containers[0].image;
    assert.deepEqual(pod.initContainers.map((c: Manifest) => [c.name, c.image]), [['dump-postgres', server]]);
    assert.deepEqual(pod.containers.map((c: Manifest) => c.name), ['mirror-uploads']);
    assert.deepEqual(pod.containers[0].command, ['rclone', 'sync', 'store:uploads', '/backup/uploads']);
    assert.equal(pod.restartPolicy, 'OnFailure');
  });

  it('writes to a volume of its own, not the database\'s', () => {
    const pod = podOf(cronJob(manifests, 'plane-backup'));
    const claim = pod.volumes.find((v: Manifest) => v.name === 'backup').persistentVolumeClaim.claimName;
    const pvc = find(manifests, 'PersistentVolumeClaim', claim);
    assert.equal(pvc.spec.resources.requests.storage, '20Gi');
    assert.notEqual(claim, 'data-plane-postgres-0');
    for (const container of [...pod.initContainers, ...pod.containers]) {
      assert.ok(container.volumeMounts.some((m: Manifest) => m.name === 'backup' && m.mountPath === '/backup' && !m.readOnly), container.name);
    }
  });

  it('refuses the deletion of its volume, with a guard that comes after the claim in dist/', () => {
    const order = manifests.map((m) => `${m.kind}/${m.metadata.name}`);
    const policy = find(manifests, 'ValidatingAdmissionPolicy', 'plane-backup-keep-volume');
    const [rule] = policy.spec.matchConstraints.resourceRules;
    assert.deepEqual([rule.operations, rule.resources, rule.resourceNames], [['DELETE'], ['persistentvolumeclaims'], ['plane-backup']]);
    assert.deepEqual(policy.spec.matchConstraints.namespaceSelector, { matchLabels: { 'kubernetes.io/metadata.name': 'plane' } });
    assert.ok(order.indexOf('PersistentVolumeClaim/plane-backup') < order.indexOf('ValidatingAdmissionPolicy/plane-backup-keep-volume'));
    assert.ok(order.indexOf('PersistentVolumeClaim/plane-backup') < order.indexOf('ValidatingAdmissionPolicyBinding/plane-backup-keep-volume'));
  });

  it('reads the database password and the store\'s keys from their Secrets', () => {
    const env = podOf(cronJob(manifests, 'plane-backup')).initContainers[0].env as Manifest[];
    const ref = (name: string) => env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    assert.deepEqual(ref('PGPASSWORD'), { name: 'plane-postgres', key: 'password' });
    assert.deepEqual(ref('RCLONE_CONFIG_STORE_ACCESS_KEY_ID'), { name: 'plane-object-store', key: 'access-key-id' });
    const config = find(manifests, 'ConfigMap', 'plane-backup-env').data;
    assert.equal(config.PGHOST, 'plane-postgres.plane.svc');
    assert.equal(config.RCLONE_CONFIG_STORE_ENDPOINT, 'http://plane-object-store.plane.svc:3900');
  });

  it('mounts the scripts of lib/data/backup unchanged', () => {
    const files = find(manifests, 'ConfigMap', 'plane-backup-files').data;
    for (const script of ['backup-postgres.sh', 'restore-postgres.sh']) {
      assert.equal(files[script], fs.readFileSync(path.join(REPO_ROOT, 'lib', 'data', 'backup', script), 'utf8'));
    }
  });

  it('keeps a restore Job template that never runs by itself', () => {
    const restore = cronJob(manifests, 'plane-backup-restore');
    assert.equal(restore.spec.suspend, true);
    const pod = podOf(restore);
    assert.deepEqual(pod.containers.map((c: Manifest) => c.command), [['sh', '/opt/plane-k3s/restore-postgres.sh']]);
    assert.equal(pod.initContainers, undefined);
    assert.equal(restore.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/name'], 'restore');
  });

  it('lets the backup reach PostgreSQL and the store, the restore PostgreSQL, nothing else', () => {
    const policy = (name: string) => find(manifests, 'NetworkPolicy', name);
    const to = (name: string) => policy(name).spec.egress.map((r: Manifest) => [r.to[0].podSelector?.matchLabels['app.kubernetes.io/name'] ?? r.to[0].ipBlock?.cidr, r.ports[0].port]);
    assert.deepEqual(to('plane-backup'), [['postgres', 5432], ['object-store', 3900]]);
    assert.deepEqual(to('plane-backup-restore'), [['postgres', 5432]]);
  });

  it('copies off-site when the site gives a target, through its addresses on 443 only', () => {
    const all = synth(siteWith((s) => { s.backup.offsite = OFFSITE; }));
    const pod = podOf(cronJob(all, 'plane-backup'));
    assert.deepEqual([...pod.initContainers, ...pod.containers].map((c: Manifest) => c.name), ['dump-postgres', 'mirror-uploads', 'copy-offsite']);
    assert.deepEqual(pod.containers[0].command, ['rclone', 'copy', '/backup', 'offsite:javisi-backups/plane-backup']);
    const env = pod.containers[0].env as Manifest[];
    assert.deepEqual(env.find((e) => e.name === 'RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY')?.valueFrom.secretKeyRef, { name: 'plane-backup-offsite', key: 'secret-access-key' });
    const egress = find(all, 'NetworkPolicy', 'plane-backup').spec.egress;
    assert.deepEqual(egress.at(-1), { to: [{ ipBlock: { cidr: '198.51.100.0/24' } }], ports: [{ port: 443, protocol: 'TCP' }] });
  });

  it('refuses an off-site target that is not https, and a schedule that is not cron', () => {
    assert.throws(() => siteWith((s) => { s.backup.offsite = { ...OFFSITE, endpoint: 'http://s3.example.org' }; }), /backup\.offsite\.endpoint: expected an https:\/\/ URL/);
    assert.throws(() => siteWith((s) => { s.backup.schedule = 'daily'; }), /backup\.schedule: expected a five-field cron schedule/);
  });

  it('counts the backup pod in the budget as the scheduler does: one step at a time, the largest', () => {
    const backup = workloadFootprints(synth(siteWith((s) => { s.backup.offsite = OFFSITE; }))).find((w) => w.name === 'plane-backup');
    assert.equal(backup?.kind, 'CronJob');
    assert.equal(backup?.requestsBytes, quantityToBytes(siteWith().backup.resources.requests.memory), 'three steps, counted once');
  });
});
