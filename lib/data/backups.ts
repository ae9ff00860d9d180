import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { CONFIG_CHECKSUM_ANNOTATION } from '../checksum';
import { PostgresConnection, S3Connection, SecretKeyRef } from '../connections';
import { ComponentConfig } from '../constructs/component-config';
import { DeletionGuard } from '../constructs/deletion-guard';
import { ContainerSpec, hardenedPodSpec, RunAs } from '../hardening';
import { WorkloadLabels } from '../labels';
import { PodPeer } from '../network/peers';
import { POSTGRES_ALPINE_USER } from './postgres';
import { mountedScripts, SCRIPTS_PATH } from '../scripts';

/** An S3 bucket elsewhere that receives a copy of every backup (on one VPS a backup on its disk is not one). */
export interface OffsiteTarget {
  /** https://… endpoint of the S3 service. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** Secret with keys "access-key-id" and "secret-access-key", made by the operator. */
  readonly credentialsSecret: string;
}

export interface BackupsProps {
  readonly namespace: string;
  readonly labels: WorkloadLabels;
  /** Labels of the restore Job's pods (another component name: NetworkPolicies tell them apart). */
  readonly restoreLabels: WorkloadLabels;
  /** The database to dump, by reference from its chart. */
  readonly postgres: PostgresConnection;
  /** The uploads bucket to mirror, by reference. */
  readonly objectStore: S3Connection;
  /** A pinned postgres image of the server's major: pg_dump refuses a server newer than itself. */
  readonly postgresImage: string;
  /** A pinned rclone image, for the uploads mirror and the off-site copy. */
  readonly rcloneImage: string;
  /** Cron schedule (UTC). */
  readonly schedule: string;
  /** Dumps kept on the backup volume. */
  readonly keep: number;
  readonly storage: string;
  readonly storageClass: string;
  readonly resources: k8s.ResourceRequirements;
  /** @default no off-site copy */
  readonly offsite?: OffsiteTarget;
  /** @default "plane-backup" (the CronJob, its volume claim; the restore CronJob is "<name>-restore") */
  readonly name?: string;
}

/** The postgres image's user: the dump tools need no other; rclone runs as any user. */
const BACKUP_USER: RunAs = POSTGRES_ALPINE_USER;
const BACKUP_DIR = '/backup';
const SCRIPTS = ['backup-postgres.sh', 'restore-postgres.sh'];
/** What the restore Job restores: a dump's file name, `latest`, or `list` (print them, change nothing). */
export const RESTORE_DUMP_ENV = 'RESTORE_DUMP';

/**
 * Backups of Plane's data on their own volume: a CronJob dumps PostgreSQL (custom format, checked with
 * `pg_restore --list`, globals beside it, the newest `keep` kept), mirrors the uploads bucket, and copies
 * both off-site when a target is given; a suspended CronJob is the template of a restore Job
 * (`kubectl create job --from=cronjob/plane-backup-restore`). Scripts: lib/data/backup/.
 */
export class Backups extends Construct {
  readonly backupPeer: PodPeer;
  readonly restorePeer: PodPeer;

  constructor(scope: Construct, id: string, props: BackupsProps) {
    super(scope, id);
    if (!Number.isInteger(props.keep) || props.keep < 1) throw new Error(`${props.name ?? 'plane-backup'}: keep must be a whole number of dumps, at least 1`);
    const name = props.name ?? 'plane-backup';
    const restoreName = `${name}-restore`;
    const metadata = (objectName: string, labels: WorkloadLabels) => ({ name: objectName, namespace: props.namespace, labels: { ...labels.all } });

    // Its own volume: a backup on the database's volume would go with it.
    const claim = new k8s.KubePersistentVolumeClaim(this, 'volume', {
      metadata: metadata(name, props.labels),
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: props.storageClass,
        resources: { requests: { storage: k8s.Quantity.fromString(props.storage) } },
      },
    });
    // After the claim in dist/: `kubectl delete -f dist` reaches the claim while the guard still stands.
    new DeletionGuard(this, 'keep-volume', {
      name: `${name}-keep-volume`,
      resource: 'persistentvolumeclaims',
      names: [claim.name],
      namespace: props.namespace,
      labels: props.labels.all,
      message: `claim ${claim.name} holds Plane's backups and is kept; the rest of dist/ is deleted. To drop it on purpose: ` +
        `kubectl delete validatingadmissionpolicybinding ${name}-keep-volume && kubectl -n ${props.namespace} delete pvc ${claim.name}`,
    });
    const volume: k8s.Volume = { name: 'backup', persistentVolumeClaim: { claimName: claim.name } };
    const mount: k8s.VolumeMount = { name: 'backup', mountPath: BACKUP_DIR };

    const config = new ComponentConfig(this, 'config', {
      namespace: props.namespace,
      name,
      labels: props.labels,
      env: {
        PGHOST: props.postgres.host,
        PGPORT: String(props.postgres.port),
        PGUSER: props.postgres.user,
        PGDATABASE: props.postgres.database,
        BACKUP_DIR,
        BACKUP_KEEP: String(props.keep),
        // rclone reads its remotes from the environment: no config file, nothing to write.
        RCLONE_CONFIG: '/dev/null',
        RCLONE_CACHE_DIR: '/tmp/rclone',
        ...s3Remote('STORE', props.objectStore.endpointUrl, props.objectStore.region),
        ...(props.offsite ? s3Remote('OFFSITE', props.offsite.endpoint, props.offsite.region) : {}),
      },
      secretEnv: {
        PGPASSWORD: props.postgres.password,
        RCLONE_CONFIG_STORE_ACCESS_KEY_ID: props.objectStore.accessKeyId,
        RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY: props.objectStore.secretAccessKey,
        ...(props.offsite ? {
          RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID: offsiteKey(props.offsite, 'access-key-id'),
          RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY: offsiteKey(props.offsite, 'secret-access-key'),
        } : {}),
      },
      files: mountedScripts('lib/data/backup', SCRIPTS),
    });
    const step = (stepName: string, image: string, command: string[]): ContainerSpec => ({
      name: stepName,
      image,
      command,
      envFrom: config.envFrom,
      env: config.env,
      resources: props.resources,
      writablePaths: ['/tmp'],
      volumeMounts: [mount, ...config.volumeMounts],
    });
    const dump = step('dump-postgres', props.postgresImage, ['sh', `${SCRIPTS_PATH}/backup-postgres.sh`]);
    const mirror = step('mirror-uploads', props.rcloneImage, ['rclone', 'sync', `store:${props.objectStore.bucket}`, `${BACKUP_DIR}/uploads`]);
    const offsite = props.offsite
      ? step('copy-offsite', props.rcloneImage, ['rclone', 'copy', BACKUP_DIR, `offsite:${props.offsite.bucket}/${name}`])
      : undefined;
    // Steps run in order (init containers), the last one as the pod's container.
    const steps = [dump, mirror, ...(offsite ? [offsite] : [])];

    const cronJob = (objectName: string, labels: WorkloadLabels, containers: ContainerSpec[], extra: Partial<k8s.CronJobSpec>) => {
      const podSpec = hardenedPodSpec({
        runAs: BACKUP_USER,
        initContainers: containers.slice(0, -1),
        containers: containers.slice(-1),
        volumes: [volume, ...config.volumes],
        restartPolicy: 'OnFailure',
      });
      return new k8s.KubeCronJob(this, objectName, {
        metadata: metadata(objectName, labels),
        spec: {
          schedule: props.schedule,
          timeZone: 'Etc/UTC',
          // Never two at once: both write the same volume.
          concurrencyPolicy: 'Forbid',
          startingDeadlineSeconds: 3600,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          ...extra,
          jobTemplate: {
            metadata: { labels: { ...labels.all } },
            spec: {
              backoffLimit: 2,
              activeDeadlineSeconds: 4 * 3600,
              template: {
                metadata: { labels: { ...labels.all }, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: config.checksum } },
                spec: podSpec,
              },
            },
          },
        },
      });
    };
    cronJob(name, props.labels, steps, {});
    // Never scheduled: the template of a restore Job, created on purpose (README, "Backups").
    // RESTORE_DUMP is set on the Job made from it (kubectl set env, plane-k3s restore); unset means latest.
    cronJob(restoreName, props.restoreLabels, [
      { ...step('restore-postgres', props.postgresImage, ['sh', `${SCRIPTS_PATH}/restore-postgres.sh`]) },
    ], { suspend: true });

    this.backupPeer = { name, namespace: props.namespace, podSelector: { ...props.labels.selector } };
    this.restorePeer = { name: restoreName, namespace: props.namespace, podSelector: { ...props.restoreLabels.selector } };
  }
}

function offsiteKey(offsite: OffsiteTarget, key: string): SecretKeyRef {
  return { secretName: offsite.credentialsSecret, key };
}

/** An rclone S3 remote named `name`, from environment variables (path-style, as Garage needs). */
function s3Remote(name: string, endpoint: string, region: string): Record<string, string> {
  const prefix = `RCLONE_CONFIG_${name}_`;
  return {
    [`${prefix}TYPE`]: 's3',
    [`${prefix}PROVIDER`]: 'Other',
    [`${prefix}ENDPOINT`]: endpoint,
    [`${prefix}REGION`]: region,
    [`${prefix}FORCE_PATH_STYLE`]: 'true',
  };
}
