import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { S3Connection } from '../lib/connections';
import { Garage } from '../lib/data/garage';
import { toResourceRequirements } from '../lib/resources';
import { imageVersion, objectName, workloadLabels } from '../lib/site';

export interface ObjectStoreChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
}

/** Plane's uploads bucket, in the cluster. */
export class ObjectStoreChart extends Chart {
  readonly connection: S3Connection;

  constructor(scope: Construct, id: string, props: ObjectStoreChartProps) {
    super(scope, id, props);
    const { site } = props;
    const settings = site.data.objectStore;
    this.connection = new Garage(this, 'garage', {
      namespace: props.namespace,
      name: objectName('object-store'),
      labels: workloadLabels(site, 'object-store', 'data', imageVersion(site.images.objectStore)),
      image: site.images.objectStore,
      bucket: site.plane.bucket,
      region: settings.region,
      storage: settings.storage,
      storageClass: site.kubernetes.storageClass,
      resources: toResourceRequirements(settings.resources),
    }).connection;
  }
}
