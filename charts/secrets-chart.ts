import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { NeedsSecrets, SecretKeySource } from '../lib/connections';
import { SecretsBootstrap } from '../lib/constructs/secrets-bootstrap';
import { PART_OF } from '../lib/labels';
import { kubeApiServer } from '../lib/network/site-peers';
import { BACKEND_USER, PLANE_IMAGES } from '../lib/plane/images';
import { toResourceRequirements } from '../lib/resources';
import { objectName, planeImage, workloadLabels } from '../lib/site';

export interface SecretsChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
  /** The components whose Secrets are made here: the data services' connections, Plane. */
  readonly consumers: readonly NeedsSecrets[];
}

/**
 * The stack's Secrets, made in the cluster by a Job on `kubectl apply -f dist` (never overwritten).
 * Only the edge's TLS certificate (tls mode secret) and a DNS provider token remain the operator's.
 */
export class SecretsChart extends Chart {
  readonly bootstrap: SecretsBootstrap;

  constructor(scope: Construct, id: string, props: SecretsChartProps) {
    super(scope, id, props);
    const { site } = props;
    const version = site.images.plane.tag;
    const labels = workloadLabels(site, 'secrets-bootstrap', 'backend', version);
    const secretKeys: SecretKeySource[] = props.consumers.flatMap((c) => c.secretKeys);
    this.bootstrap = new SecretsBootstrap(this, 'bootstrap', {
      namespace: props.namespace,
      name: objectName('secrets'),
      labels,
      // The backend image has python3: no other image to pull, pin and trust.
      image: planeImage(site, PLANE_IMAGES.backend),
      runAs: BACKEND_USER,
      resources: toResourceRequirements(site.components.secretsBootstrap.resources),
      version,
      secretKeys,
      // The export in docs/runbook.md "Keeping the Secrets safe" selects them by managed-by.
      secretLabels: {
        'app.kubernetes.io/part-of': PART_OF,
        'app.kubernetes.io/instance': site.project.name,
        'app.kubernetes.io/managed-by': 'plane-secrets',
      },
      apiServer: kubeApiServer(site),
    });
  }
}
