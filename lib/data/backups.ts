import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { CONFIG_CHECKSUM_ANNOTATION } from '../checksum';
import { NeedsSecrets, PostgresConnection, S3Connection, SecretKeyRef, SecretKeySource } from '../connections';
import { ComponentConfig, secretEnvVars } from '../constructs/component-config';
import { ContainerSpec, hardenedPodSpec, RunAs } from '../hardening';
import { WorkloadLabels } from '../labels';
import { Call, callTo, describeWorkload, Workload } from '../stack/workload';
import { POSTGRES_ALPINE_USER } from './postgres';
import { mountedScripts, SCRIPTS_PATH } from '../scripts';
import { cronJobTiming } from '../constructs/cron-job-timing';
import { priorityClassName } from '../constructs/priority-classes';
import { BACKEND_LOG_PATH, TMP_PATH } from '../plane/images';

/** An S3 bucket elsewhere that receives a copy of the encrypted repository (on one VPS a backup on its disk is not one). */
export interface OffsiteTarget {
  /** https://… endpoint of the S3 service. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** Secret with keys "access-key-id" and "secret-access-key", made by the operator. */
  readonly credentialsSecret: string;
  /** The service's address ranges: the backup's only way out, on 443. */
  readonly cidrs: readonly string[];
}

export interface BackupsProps {
  readonly namespace: string;
  readonly labels: WorkloadLabels;
  /** Labels of the restore Job's pods (another component name: NetworkPolicies tell them apart). */
  readonly restoreLabels: WorkloadLabels;
  /** Labels of the restore drill's pods. */
  readonly drillLabels: WorkloadLabels;
  /** Labels of an upgrade rehearsal's pods. */
  readonly rehearsalLabels: WorkloadLabels;
  /** The database to dump, by reference from its chart. */
  readonly postgres: PostgresConnection;
  /** The uploads bucket to copy, by reference. */
  readonly objectStore: S3Connection;
  /** A pinned postgres image of the server's major: pg_dump refuses a server newer than itself. */
  readonly postgresImage: string;
  /** A pinned rclone image, for the copy of the uploads. */
  readonly rcloneImage: string;
  /** A pinned restic image: encryption, retention, checks, the off-site copy. */
  readonly resticImage: string;
  /**
   * The rehearsal template's migration step: Plane's backend image (plane-k3s upgrade --rehearse puts the
   * target release's in its place) and its resources.
   */
  readonly rehearsalMigration: { readonly image: string; readonly resources: k8s.ResourceRequirements };
  /** The Plane version the stack runs: every backup is stamped with it, a restore refuses another. */
  readonly planeVersion: string;
  /** Cron schedule of the backup (UTC). */
  readonly schedule: string;
  /** Cron schedule of the restore drill (UTC). */
  readonly drillSchedule: string;
  /** Snapshots kept in the repository on the backup volume. */
  readonly keep: number;
  /** Size of the backup volume, and of the scratch space of each backup, restore and drill pod. */
  readonly storage: string;
  readonly storageClass: string;
  readonly resources: k8s.ResourceRequirements;
  /** @default no off-site copy */
  readonly offsite?: OffsiteTarget;
  /** @default "plane-backup" (the CronJob, its volume claim; "<name>-restore", "<name>-drill", "<name>-rehearsal", "<name>-key") */
  readonly name?: string;
}

/** The postgres image's user: pg_dump and the throw-away server need no other; restic and rclone run as any user. */
const BACKUP_USER: RunAs = POSTGRES_ALPINE_USER;
const BACKUP_DIR = '/backup';
/** Each pod's scratch space: plain dumps and uploads live only here, and go with the pod. */
const WORK_DIR = '/work';
const SCRIPTS = [
  'dump-postgres.sh',
  'snapshot.sh',
  'unpack.sh',
  'restore-postgres.sh',
  'drill-postgres.sh',
  'restore-checked.sh',
  'check-restored.sql',
  'finish-restore.sh',
  'rehearse-postgres.sh',
  'rehearse-migrate.sh',
];
/** What the restore Job restores: a snapshot id, `latest`, or `list` (print them, change nothing). */
export const RESTORE_BACKUP_ENV = 'RESTORE_BACKUP';
/** Set to the backup's Plane version to restore a backup of another version on purpose. */
export const RESTORE_ALLOW_VERSION_ENV = 'RESTORE_ALLOW_VERSION';
/** The key of the repository's password in its Secret (`<name>-key`). */
export const REPOSITORY_KEY = 'restic-password';
/** The release an upgrade rehearsal migrates to (set on the Job made from the rehearsal template). */
export const REHEARSAL_TARGET_ENV = 'REHEARSAL_TARGET';
/** The rehearsal template's container that runs the target release's migrations: its image is the target's. */
export const REHEARSAL_MIGRATE_CONTAINER = 'rehearse-migrate';
/** Where a rehearsal's two running steps meet (rehearse-postgres.sh): a small volume of its own. */
const SIGNALS_DIR = '/signals';
/** Where the drill records the snapshots it restored (on the backup volume). */
export const DRILLS_FILE = `${BACKUP_DIR}/drills.tsv`;

/**
 * Encrypted, version-stamped backups of Plane's data, with the restore and its weekly drill:
 * - the backup CronJob dumps PostgreSQL (one snapshot for the dump, its row counts and migration head)
 *   and copies the uploads into the pod's scratch space, then restic encrypts both into one snapshot of
 *   the repository on the backup volume (retention by count), and copies it off-site when a target is
 *   given; the key is a Secret made in the cluster (`<name>-key`);
 * - the suspended restore CronJob is the template of a restore Job (plane-k3s restore): unpack one
 *   snapshot, restore and check the database in one transaction, copy the uploads back;
 * - the drill CronJob checks the repository, restores the latest snapshot into a throw-away server in its
 *   pod and checks it; its CronJob's last success is what plane-k3s verify reads;
 * - the suspended rehearsal CronJob is the template of an upgrade rehearsal (plane-k3s upgrade --rehearse):
 *   one snapshot restored into a scratch server in its pod, migrated by the target release's backend
 *   image beside it, then dropped; it reaches nothing and holds no credential but the repository's key.
 * Each step runs in its own container with only the credential it uses. Scripts: lib/data/backup/.
 */
export class Backups extends Construct implements NeedsSecrets {
  /** The repository's key, made by the secrets bootstrap; without it nothing can be restored. */
  readonly repositoryKey: SecretKeyRef;
  readonly secretKeys: readonly SecretKeySource[];
  /** The backup volume's claim. */
  readonly claimName: string;
  /** CronJob names: the backup, the restore template, the drill, the rehearsal template. */
  readonly cronJobNames: { readonly backup: string; readonly restore: string; readonly drill: string; readonly rehearsal: string };
  /** The CronJobs, for the stack model: the backup, the restore template, the drill, the rehearsal template. */
  readonly workloads: readonly Workload[];

  constructor(scope: Construct, id: string, props: BackupsProps) {
    super(scope, id);
    const name = props.name ?? 'plane-backup';
    if (!Number.isInteger(props.keep) || props.keep < 1) throw new Error(`${name}: keep must be a whole number of snapshots, at least 1`);
    this.cronJobNames = { backup: name, restore: `${name}-restore`, drill: `${name}-drill`, rehearsal: `${name}-rehearsal` };
    this.repositoryKey = { secretName: `${name}-key`, key: REPOSITORY_KEY };
    this.secretKeys = [{ ref: this.repositoryKey, generate: 'hex32' }];
    const metadata = (objectName: string, labels: WorkloadLabels) => ({
      name: objectName,
      namespace: props.namespace,
      labels: { ...labels.all },
    });

    // Its own volume: a backup on the database's volume would go with it.
    const claim = new k8s.KubePersistentVolumeClaim(this, 'volume', {
      metadata: metadata(name, props.labels),
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: props.storageClass,
        resources: { requests: { storage: k8s.Quantity.fromString(props.storage) } },
      },
    });
    this.claimName = claim.name;

    const repository = `${BACKUP_DIR}/restic`;
    const offsiteRepository = props.offsite
      ? `s3:${props.offsite.endpoint.replace(/\/+$/, '')}/${props.offsite.bucket}/${name}`
      : undefined;
    const config = new ComponentConfig(this, 'config', {
      namespace: props.namespace,
      name,
      labels: props.labels,
      env: {
        PGHOST: props.postgres.host,
        PGPORT: String(props.postgres.port),
        PGUSER: props.postgres.user,
        PGDATABASE: props.postgres.database,
        PLANE_VERSION: props.planeVersion,
        BACKUP_DIR,
        BACKUP_KEEP: String(props.keep),
        WORK_DIR,
        RESTIC_REPOSITORY: repository,
        RESTIC_CACHE_DIR: `${WORK_DIR}/.restic-cache`,
        ...(props.offsite && offsiteRepository ? { OFFSITE_REPOSITORY: offsiteRepository, AWS_DEFAULT_REGION: props.offsite.region } : {}),
        // rclone reads its remote from the environment: no config file, nothing to write.
        RCLONE_CONFIG: '/dev/null',
        RCLONE_CACHE_DIR: '/tmp/rclone',
        ...s3Remote('STORE', props.objectStore.endpointUrl, props.objectStore.region),
        UPLOADS_BUCKET: props.objectStore.bucket,
      },
      files: mountedScripts('lib/data/backup', SCRIPTS),
    });

    // The credentials, each given only to the step that uses it.
    const databasePassword = { PGPASSWORD: props.postgres.password };
    const storeKeys = {
      RCLONE_CONFIG_STORE_ACCESS_KEY_ID: props.objectStore.accessKeyId,
      RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY: props.objectStore.secretAccessKey,
    };
    const repositoryKey = { RESTIC_PASSWORD: this.repositoryKey };
    const offsiteKeys: Record<string, SecretKeyRef> = props.offsite
      ? {
          AWS_ACCESS_KEY_ID: { secretName: props.offsite.credentialsSecret, key: 'access-key-id' },
          AWS_SECRET_ACCESS_KEY: { secretName: props.offsite.credentialsSecret, key: 'secret-access-key' },
        }
      : {};

    const backupVolume: k8s.Volume = { name: 'backup', persistentVolumeClaim: { claimName: claim.name } };
    const scratchVolume: k8s.Volume = { name: 'scratch', emptyDir: { sizeLimit: k8s.Quantity.fromString(props.storage) } };
    const step = (
      stepName: string,
      image: string,
      command: string[],
      secrets: Record<string, SecretKeyRef>,
      onBackupVolume: boolean,
    ): ContainerSpec => ({
      name: stepName,
      image,
      command,
      envFrom: config.envFrom,
      env: secretEnvVars(secrets),
      resources: props.resources,
      writablePaths: ['/tmp'],
      // Only restic's steps see the backup volume: it holds nothing but the encrypted repository.
      volumeMounts: [
        { name: scratchVolume.name, mountPath: WORK_DIR },
        ...(onBackupVolume ? [{ name: backupVolume.name, mountPath: BACKUP_DIR }] : []),
        ...config.volumeMounts,
      ],
    });
    const script = (file: string, ...args: string[]) => ['sh', `${SCRIPTS_PATH}/${file}`, ...args];

    const workloads: Workload[] = [];
    const cronJob = (
      objectName: string,
      labels: WorkloadLabels,
      steps: ContainerSpec[],
      extra: Partial<k8s.CronJobSpec>,
      once: boolean,
      calls: readonly Call[],
      /** How many of the last steps run together (the others one after the other before them). */
      together = 1,
      extraVolumes: k8s.Volume[] = [],
    ) => {
      const secretsRead = steps.flatMap((c) =>
        (c.env ?? []).flatMap((e) => {
          const ref = e.valueFrom?.secretKeyRef;
          return ref ? [{ secretName: ref.name as string, key: ref.key }] : [];
        }),
      );
      workloads.push(
        describeWorkload({
          kind: 'CronJob',
          name: objectName,
          namespace: props.namespace,
          labels,
          containers: steps,
          schedule: extra.schedule ?? props.schedule,
          otherSecretsRead: secretsRead,
          calls,
          isolated: calls.length === 0,
        }),
      );
      const podSpec = hardenedPodSpec({
        runAs: BACKUP_USER,
        initContainers: steps.slice(0, -together),
        containers: steps.slice(-together),
        volumes: [backupVolume, scratchVolume, ...extraVolumes, ...config.volumes],
        // A restore or a drill that fails is looked at, not retried: its scratch space starts empty again.
        restartPolicy: once ? 'Never' : 'OnFailure',
        // Evicted first under node pressure: the next schedule runs again (a restore is run by hand).
        priorityClassName: priorityClassName(props.namespace, 'jobs'),
      });
      return new k8s.KubeCronJob(this, objectName, {
        metadata: metadata(objectName, labels),
        spec: {
          // Never two at once (restic's locks also keep a backup, a drill and a restore apart).
          ...cronJobTiming(props.schedule),
          ...extra,
          jobTemplate: {
            metadata: { labels: { ...labels.all } },
            spec: {
              backoffLimit: once ? 0 : 2,
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

    cronJob(
      this.cronJobNames.backup,
      props.labels,
      [
        step('dump-postgres', props.postgresImage, script('dump-postgres.sh'), databasePassword, false),
        step(
          'copy-uploads',
          props.rcloneImage,
          ['rclone', 'copy', `store:${props.objectStore.bucket}`, `${WORK_DIR}/uploads`],
          storeKeys,
          false,
        ),
        step('snapshot', props.resticImage, script('snapshot.sh'), { ...repositoryKey, ...offsiteKeys }, true),
      ],
      {},
      false,
      [
        callTo(props.postgres),
        callTo(props.objectStore),
        ...(props.offsite ? [{ to: { name: 'offsite-backup', cidrs: props.offsite.cidrs }, ports: [{ port: 443 }] }] : []),
      ],
    );
    // Never scheduled: the template of a restore Job, made on purpose (plane-k3s restore, docs/runbook.md).
    // RESTORE_BACKUP is set on the Job made from it; unset means latest.
    cronJob(
      this.cronJobNames.restore,
      props.restoreLabels,
      [
        step('unpack', props.resticImage, script('unpack.sh'), repositoryKey, true),
        step('restore-postgres', props.postgresImage, script('restore-postgres.sh'), databasePassword, false),
        step('restore-uploads', props.rcloneImage, script('finish-restore.sh'), storeKeys, false),
      ],
      { suspend: true },
      true,
      [callTo(props.postgres), callTo(props.objectStore)],
    );
    cronJob(
      this.cronJobNames.drill,
      props.drillLabels,
      [
        step('drill-unpack', props.resticImage, script('unpack.sh', 'drill'), repositoryKey, true),
        step('drill-postgres', props.postgresImage, script('drill-postgres.sh'), {}, false),
        step('drill-record', props.resticImage, script('finish-restore.sh', 'drill'), {}, true),
      ],
      { schedule: props.drillSchedule },
      true,
      [],
    );
    // Never scheduled: the template of an upgrade rehearsal (plane-k3s upgrade --rehearse <tag>, which sets
    // RESTORE_BACKUP, REHEARSAL_TARGET and the migration step's image). The copy's server and the target's
    // migration run side by side (they meet on the pod's loopback); neither holds a credential of the stack.
    const signalsVolume: k8s.Volume = { name: 'signals', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Mi') } };
    const signals = { name: signalsVolume.name, mountPath: SIGNALS_DIR };
    const serveCopy = step('rehearse-postgres', props.postgresImage, script('rehearse-postgres.sh'), {}, false);
    cronJob(
      this.cronJobNames.rehearsal,
      props.rehearsalLabels,
      [
        step('rehearse-unpack', props.resticImage, script('unpack.sh', 'rehearse'), repositoryKey, true),
        {
          ...serveCopy,
          env: [{ name: 'REHEARSAL_SIGNALS', value: SIGNALS_DIR }],
          volumeMounts: [...(serveCopy.volumeMounts ?? []), signals],
        },
        {
          name: REHEARSAL_MIGRATE_CONTAINER,
          image: props.rehearsalMigration.image,
          command: script('rehearse-migrate.sh'),
          // Not the backup's environment, nor its scratch volume: the database it migrates is the copy on 127.0.0.1.
          env: [
            { name: 'REHEARSAL_SIGNALS', value: SIGNALS_DIR },
            { name: REHEARSAL_TARGET_ENV, value: props.planeVersion },
            // Plane builds a Redis client when Django loads (plane/celery.py) and fails without a URL; migrations
            // never use it: loopback, where nothing listens in this pod.
            { name: 'REDIS_URL', value: 'redis://127.0.0.1:6379/0' },
            { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
            { name: 'PYTHONUNBUFFERED', value: '1' },
          ],
          resources: props.rehearsalMigration.resources,
          writablePaths: [BACKEND_LOG_PATH, TMP_PATH],
          volumeMounts: [signals, ...config.volumeMounts],
        },
      ],
      { suspend: true },
      true,
      [],
      2,
      [signalsVolume],
    );
    this.workloads = workloads;
  }
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
