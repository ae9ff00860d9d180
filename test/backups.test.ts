/**
 * The backup CronJob, the restore Job's template and the drill: schedules and retention from the site, a
 * pg_dump of the server's own image (so of its major), the steps in order, plain data only in scratch
 * space, each step's credentials, the network flows; the off-site copy only when the site gives a
 * target. (The scripts themselves run against a real PostgreSQL and restic in test/postgres/.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { workloadFootprints } from '../lib/budget';
import { quantityToBytes } from '../lib/config/quantity';
import { REHEARSAL_MIGRATE_CONTAINER } from '../lib/data/backups';
import { find, Manifest, REPO_ROOT, siteWith, synth } from './helpers';

const manifests = synth();
const cronJob = (all: Manifest[], name: string) => find(all, 'CronJob', name);
const podOf = (job: Manifest) => job.spec.jobTemplate.spec.template.spec;
const OFFSITE = {
  endpoint: 'https://s3.eu-west-3.example.org',
  bucket: 'javisi-backups',
  region: 'eu-west-3',
  credentialsSecret: 'plane-backup-offsite',
  cidrs: ['198.51.100.0/24'],
};

describe('backups', () => {
  it("runs on the site's schedule, in UTC, never two at once", () => {
    const job = cronJob(manifests, 'plane-backup');
    assert.equal(job.spec.schedule, '30 2 * * *');
    assert.equal(job.spec.timeZone, 'Etc/UTC');
    assert.equal(job.spec.concurrencyPolicy, 'Forbid');
    assert.equal(job.spec.suspend, undefined);
    assert.equal(find(manifests, 'ConfigMap', 'plane-backup-env').data.BACKUP_KEEP, '14');
    assert.equal(cronJob(manifests, 'plane-backup-drill').spec.concurrencyPolicy, 'Forbid');
  });

  it("dumps with the server's own image, copies the uploads, then encrypts both with restic, in that order", () => {
    const pod = podOf(cronJob(manifests, 'plane-backup'));
    const server = find(manifests, 'StatefulSet', 'plane-postgres').spec.template.spec.containers[0].image;
    const steps = [...pod.initContainers, ...pod.containers].map((c: Manifest) => [c.name, c.image, c.command.join(' ')]);
    assert.deepEqual(steps, [
      ['dump-postgres', server, 'sh /opt/plane-k3s/dump-postgres.sh'],
      ['copy-uploads', siteWith().images.rclone, 'rclone copy store:uploads /work/uploads'],
      ['snapshot', siteWith().images.restic, 'sh /opt/plane-k3s/snapshot.sh'],
    ]);
    assert.equal(pod.restartPolicy, 'OnFailure');
    assert.equal(
      find(manifests, 'ConfigMap', 'plane-backup-env').data.PLANE_VERSION,
      siteWith().images.plane.tag,
      'stamped with the running version',
    );
  });

  it("builds in its tests the restic release the site's image runs", () => {
    const tag = siteWith().images.restic.split(':').at(-1);
    assert.match(
      fs.readFileSync(path.join(REPO_ROOT, 'tools', 'go-tools', 'install.sh'), 'utf8'),
      new RegExp(`"restic:github.com/restic/restic/cmd/restic:v${tag}"`),
    );
  });

  it("keeps plain data in each pod's scratch space; only restic's steps see the backup volume", () => {
    for (const name of ['plane-backup', 'plane-backup-restore', 'plane-backup-drill']) {
      const pod = podOf(cronJob(manifests, name));
      const claim = pod.volumes.find((v: Manifest) => v.name === 'backup').persistentVolumeClaim.claimName;
      assert.equal(claim, 'plane-backup');
      assert.equal(pod.volumes.find((v: Manifest) => v.name === 'scratch').emptyDir.sizeLimit, '20Gi');
      for (const container of [...pod.initContainers, ...pod.containers]) {
        const mounts = container.volumeMounts.map((m: Manifest) => `${m.name}:${m.mountPath}`);
        assert.ok(mounts.includes('scratch:/work'), `${name}/${container.name}`);
        const resticStep = container.image === siteWith().images.restic;
        assert.equal(mounts.includes('backup:/backup'), resticStep, `${name}/${container.name}: the volume only for restic's steps`);
      }
    }
    assert.equal(find(manifests, 'PersistentVolumeClaim', 'plane-backup').spec.resources.requests.storage, '20Gi');
  });

  it('gives each step only the credential it uses', () => {
    const secretsOf = (name: string) =>
      Object.fromEntries(
        [...podOf(cronJob(manifests, name)).initContainers, ...podOf(cronJob(manifests, name)).containers].map((c: Manifest) => [
          c.name,
          (c.env ?? [])
            .filter((e: Manifest) => e.valueFrom)
            .map((e: Manifest) => `${e.name}=${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`),
        ]),
      );
    const store = [
      'RCLONE_CONFIG_STORE_ACCESS_KEY_ID=plane-object-store/access-key-id',
      'RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY=plane-object-store/secret-access-key',
    ];
    const key = ['RESTIC_PASSWORD=plane-backup-key/restic-password'];
    const database = ['PGPASSWORD=plane-postgres/password'];
    assert.deepEqual(secretsOf('plane-backup'), { 'dump-postgres': database, 'copy-uploads': store, snapshot: key });
    assert.deepEqual(secretsOf('plane-backup-restore'), { unpack: key, 'restore-postgres': database, 'restore-uploads': store });
    assert.deepEqual(secretsOf('plane-backup-drill'), { 'drill-unpack': key, 'drill-postgres': [], 'drill-record': [] });
    assert.deepEqual(secretsOf('plane-backup-rehearsal'), { 'rehearse-unpack': key, 'rehearse-postgres': [], 'rehearse-migrate': [] });
    const config = find(manifests, 'ConfigMap', 'plane-backup-env').data;
    assert.equal(config.PGHOST, 'plane-postgres.plane.svc');
    assert.equal(config.RCLONE_CONFIG_STORE_ENDPOINT, 'http://plane-object-store.plane.svc:3900');
    assert.equal(
      Object.keys(config).some((k) => /PASSWORD|SECRET|ACCESS_KEY/.test(k)),
      false,
      'no credential in the ConfigMap',
    );
  });

  it('has the repository key made in the cluster by the secrets bootstrap, never in dist/', () => {
    const spec = JSON.parse(find(manifests, 'ConfigMap', 'plane-secrets-files').data['secrets.json']);
    assert.deepEqual(spec.secrets.find((s: Manifest) => s.name === 'plane-backup-key')?.keys, { 'restic-password': { generate: 'hex32' } });
    assert.equal(
      manifests.some((m) => m.kind === 'Secret' && m.metadata.name === 'plane-backup-key'),
      false,
    );
  });

  it('mounts the scripts of lib/data/backup unchanged', () => {
    const files = find(manifests, 'ConfigMap', 'plane-backup-files').data;
    const folder = path.join(REPO_ROOT, 'lib', 'data', 'backup');
    assert.deepEqual(Object.keys(files).sort(), fs.readdirSync(folder).sort());
    for (const script of fs.readdirSync(folder)) assert.equal(files[script], fs.readFileSync(path.join(folder, script), 'utf8'));
  });

  it('keeps a restore Job template that never runs by itself and is not retried', () => {
    const restore = cronJob(manifests, 'plane-backup-restore');
    assert.equal(restore.spec.suspend, true);
    assert.equal(restore.spec.jobTemplate.spec.backoffLimit, 0);
    const pod = podOf(restore);
    assert.equal(pod.restartPolicy, 'Never');
    assert.deepEqual(
      [...pod.initContainers, ...pod.containers].map((c: Manifest) => c.command.join(' ')),
      ['sh /opt/plane-k3s/unpack.sh', 'sh /opt/plane-k3s/restore-postgres.sh', 'sh /opt/plane-k3s/finish-restore.sh'],
    );
    assert.equal(restore.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/name'], 'restore');
  });

  it("keeps an upgrade rehearsal template: never scheduled, the copy's server beside the migration of Plane's backend image", () => {
    const rehearsal = cronJob(manifests, 'plane-backup-rehearsal');
    assert.equal(rehearsal.spec.suspend, true);
    assert.equal(rehearsal.spec.jobTemplate.spec.backoffLimit, 0);
    const pod = podOf(rehearsal);
    assert.equal(pod.restartPolicy, 'Never');
    assert.deepEqual(
      pod.initContainers.map((c: Manifest) => [c.name, c.command.join(' ')]),
      [['rehearse-unpack', 'sh /opt/plane-k3s/unpack.sh rehearse']],
    );
    // Both run at once: they meet on the pod's loopback and a small signals volume.
    assert.deepEqual(
      pod.containers.map((c: Manifest) => [c.name, c.command.join(' ')]),
      [
        ['rehearse-postgres', 'sh /opt/plane-k3s/rehearse-postgres.sh'],
        [REHEARSAL_MIGRATE_CONTAINER, 'sh /opt/plane-k3s/rehearse-migrate.sh'],
      ],
    );
    const [server, migrate] = pod.containers;
    assert.equal(server.image, find(manifests, 'StatefulSet', 'plane-postgres').spec.template.spec.containers[0].image);
    const migrator = manifests.find((m) => m.kind === 'Job' && m.metadata.labels['app.kubernetes.io/name'] === 'migrator') as Manifest;
    assert.equal(
      migrate.image,
      migrator.spec.template.spec.containers[0].image,
      "the stack's backend image until the CLI sets the target's",
    );
    assert.deepEqual(
      {
        requests: { cpu: migrate.resources.requests.cpu, memory: migrate.resources.requests.memory },
        limits: { cpu: migrate.resources.limits.cpu, memory: migrate.resources.limits.memory },
      },
      siteWith().backup.rehearsal.resources,
      'the resources of backup.rehearsal',
    );
    // The migration step sees neither the backup volume, nor the scratch volume, nor the backup's environment.
    assert.equal(migrate.envFrom, undefined);
    assert.deepEqual(
      migrate.volumeMounts.filter((m: Manifest) => !m.mountPath.startsWith('/opt/plane-k3s/')).map((m: Manifest) => m.name),
      ['writable-code-plane-logs', 'writable-tmp', 'signals'],
    );
    assert.equal(Object.fromEntries(migrate.env.map((e: Manifest) => [e.name, e.value])).REHEARSAL_SIGNALS, '/signals');
    const signals = pod.volumes.find((v: Manifest) => v.name === 'signals');
    assert.deepEqual(signals, { name: 'signals', emptyDir: { sizeLimit: '1Mi' } });
    assert.equal(rehearsal.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/name'], 'rehearsal');
  });

  it("drills on the site's drill schedule, with a throw-away server of the PostgreSQL image", () => {
    const drill = cronJob(manifests, 'plane-backup-drill');
    assert.equal(drill.spec.schedule, siteWith().backup.drill.schedule);
    assert.equal(drill.spec.suspend, undefined);
    const pod = podOf(drill);
    const server = find(manifests, 'StatefulSet', 'plane-postgres').spec.template.spec.containers[0].image;
    assert.deepEqual(
      [...pod.initContainers, ...pod.containers].map((c: Manifest) => [c.name, c.command.join(' ')]),
      [
        ['drill-unpack', 'sh /opt/plane-k3s/unpack.sh drill'],
        ['drill-postgres', 'sh /opt/plane-k3s/drill-postgres.sh'],
        ['drill-record', 'sh /opt/plane-k3s/finish-restore.sh drill'],
      ],
    );
    assert.equal(pod.initContainers[1].image, server);
    assert.equal(drill.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/name'], 'drill');
  });

  it('lets the backup and the restore reach PostgreSQL and the store, nothing else', () => {
    const policy = (name: string) => find(manifests, 'NetworkPolicy', name);
    const to = (name: string) =>
      policy(name).spec.egress.map((r: Manifest) => [
        r.to[0].podSelector?.matchLabels['app.kubernetes.io/name'] ?? r.to[0].ipBlock?.cidr,
        r.ports[0].port,
      ]);
    assert.deepEqual(to('plane-backup'), [
      ['postgres', 5432],
      ['object-store', 3900],
    ]);
    assert.deepEqual(to('plane-backup-restore'), [
      ['postgres', 5432],
      ['object-store', 3900],
    ]);
  });

  it('copies the encrypted repository off-site when the site gives a target, through its addresses on 443 only', () => {
    const all = synth(
      siteWith((s) => {
        s.backup.offsite = OFFSITE;
      }),
    );
    const pod = podOf(cronJob(all, 'plane-backup'));
    const snapshot = pod.containers[0];
    assert.equal(snapshot.name, 'snapshot');
    const env = snapshot.env as Manifest[];
    assert.deepEqual(env.find((e) => e.name === 'AWS_SECRET_ACCESS_KEY')?.valueFrom.secretKeyRef, {
      name: 'plane-backup-offsite',
      key: 'secret-access-key',
    });
    assert.equal(
      pod.initContainers.some((c: Manifest) => (c.env ?? []).some((e: Manifest) => e.name.startsWith('AWS_'))),
      false,
      'only the snapshot step has the off-site keys',
    );
    const config = find(all, 'ConfigMap', 'plane-backup-env').data;
    assert.equal(config.OFFSITE_REPOSITORY, 's3:https://s3.eu-west-3.example.org/javisi-backups/plane-backup');
    const egress = find(all, 'NetworkPolicy', 'plane-backup').spec.egress;
    assert.deepEqual(egress.at(-1), { to: [{ ipBlock: { cidr: '198.51.100.0/24' } }], ports: [{ port: 443, protocol: 'TCP' }] });
  });

  it('refuses an off-site target that is not https, and a schedule that is not cron', () => {
    assert.throws(
      () =>
        siteWith((s) => {
          s.backup.offsite = { ...OFFSITE, endpoint: 'http://s3.example.org' };
        }),
      /backup\.offsite\.endpoint: expected an https:\/\/ URL/,
    );
    assert.throws(
      () =>
        siteWith((s) => {
          s.backup.schedule = 'daily';
        }),
      /backup\.schedule: expected a five-field cron schedule/,
    );
    assert.throws(
      () =>
        siteWith((s) => {
          s.backup.drill.schedule = '0 4 * * 8';
        }),
      /backup\.drill\.schedule: expected a five-field cron schedule .*: a field is out of range/,
    );
  });

  it('counts the backup pod in the budget as the scheduler does: one step at a time, the largest', () => {
    const backup = workloadFootprints(
      synth(
        siteWith((s) => {
          s.backup.offsite = OFFSITE;
        }),
      ),
    ).find((w) => w.name === 'plane-backup');
    assert.equal(backup?.kind, 'CronJob');
    assert.equal(backup?.requestsBytes, quantityToBytes(siteWith().backup.resources.requests.memory), 'three steps, counted once');
  });
});
