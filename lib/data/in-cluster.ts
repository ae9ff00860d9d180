/**
 * What every in-cluster data service is given, from the site, written once: its name, labels, image,
 * volume and resources. A data service's chart adds only what is its own (database, users, bucket).
 */
import { ResourceSpec, SiteConfig } from '../config/site-config';
import { DataServiceProps } from '../constructs/data-stateful-set';
import { imageVersion, objectName, workloadLabels } from '../site';

/** The site's choice for a data service that runs in the cluster: its volume and resources. */
export interface InClusterSettings {
  readonly storage: string;
  readonly resources: ResourceSpec;
}

export function inClusterProps(
  site: SiteConfig,
  namespace: string,
  component: string,
  image: string,
  settings: InClusterSettings,
): DataServiceProps & { name: string } {
  return {
    namespace,
    name: objectName(component),
    labels: workloadLabels(site, component, 'data', imageVersion(image)),
    image,
    storage: settings.storage,
    storageClass: site.kubernetes.storageClass,
    resources: settings.resources,
  };
}
