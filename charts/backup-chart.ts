import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { PostgresConnection, S3Connection } from '../lib/connections';
import { Backups } from '../lib/data/backups';
import { toResourceRequirements } from '../lib/resources';
import { imageVersion, objectName, planeImage, workloadLabels } from '../lib/site';
import { PLANE_IMAGES } from '../lib/plane/images';

export interface BackupChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
  readonly postgres: PostgresConnection;
  readonly objectStore: S3Connection;
}

/** Encrypted backups of PostgreSQL and the uploads, their restore template and drill (docs/runbook.md "Backups and the restore drill"). */
export class BackupChart extends Chart {
  readonly backups: Backups;

  constructor(scope: Construct, id: string, props: BackupChartProps) {
    super(scope, id, props);
    const { site } = props;
    const version = imageVersion(site.images.postgres);
    this.backups = new Backups(this, 'backups', {
      namespace: props.namespace,
      name: objectName('backup'),
      labels: workloadLabels(site, 'backup', 'data', version),
      restoreLabels: workloadLabels(site, 'restore', 'data', version),
      drillLabels: workloadLabels(site, 'drill', 'data', version),
      rehearsalLabels: workloadLabels(site, 'rehearsal', 'data', version),
      postgres: props.postgres,
      objectStore: props.objectStore,
      postgresImage: site.images.postgres,
      rcloneImage: site.images.rclone,
      resticImage: site.images.restic,
      rehearsalMigration: {
        image: planeImage(site, PLANE_IMAGES.backend),
        resources: toResourceRequirements(site.backup.rehearsal.resources),
      },
      planeVersion: site.images.plane.tag,
      schedule: site.backup.schedule,
      drillSchedule: site.backup.drill.schedule,
      keep: site.backup.keep,
      storage: site.backup.storage,
      storageClass: site.kubernetes.storageClass,
      resources: toResourceRequirements(site.backup.resources),
      offsite: site.backup.offsite,
    });
  }
}
