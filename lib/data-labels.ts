/**
 * Which objects of dist/ hold data: the stack's namespace and StorageClass are labelled where they are
 * made (charts/namespace-chart.ts); every PersistentVolumeClaim of the data namespace is labelled here,
 * whichever chart makes it, so a new claim cannot be forgotten.
 */
import { ApiObject, Chart } from 'cdk8s';
import { HOLDS_DATA_LABEL } from './labels';

/** Labels HOLDS_DATA_LABEL on every PersistentVolumeClaim the charts put in `namespace`. */
export function labelDataClaims(charts: readonly Chart[], namespace: string): void {
  for (const chart of charts) {
    for (const child of chart.node.findAll()) {
      if (child instanceof ApiObject && child.kind === 'PersistentVolumeClaim' && child.metadata.namespace === namespace) {
        child.metadata.addLabel(HOLDS_DATA_LABEL, 'true');
      }
    }
  }
}
