/**
 * Wiring only: which charts make the stack and what each passes to the next.
 * `npx cdk8s synth` and `npm run synth` run it through bin/synth.ts; SITE_CONFIG selects another site file.
 */
import { App } from 'cdk8s';
import { BackupChart } from './charts/backup-chart';
import { EdgeChart } from './charts/edge-chart';
import { EdgeDnsChart } from './charts/edge-dns-chart';
import { NamespaceChart } from './charts/namespace-chart';
import { NetworkPolicyChart } from './charts/network-policy-chart';
import { ObjectStoreChart } from './charts/object-store-chart';
import { PlaneChart } from './charts/plane-chart';
import { PostgresChart } from './charts/postgres-chart';
import { RabbitmqChart } from './charts/rabbitmq-chart';
import { RedisChart } from './charts/redis-chart';
import { SecretsChart } from './charts/secrets-chart';
import { SiteConfig } from './lib/config/site-config';
import { labelDataClaims } from './lib/data-labels';
import { edgePodSecurity } from './lib/edge/edge-site';
import { HEADSCALE_RECORDS_FILE, headscaleExtraRecords, splitDnsRecords } from './lib/edge/split-dns';
import { BACKEND_USER, PLANE_IMAGES } from './lib/plane/images';
import { toResourceRequirements } from './lib/resources';
import { planeImage, workloadLabels } from './lib/site';
import { HOLDS_DATA_LABEL } from './lib/labels';
import { RETAIN_STORAGE_CLASS } from './lib/config/site-config';
import { SideFiles } from './lib/synth';
import { kubeApiServer } from './lib/network/site-peers';
import { provisioningSpec } from './lib/plane/provisioning';
import { StackModel, workloadsIn } from './lib/stack/stack-model';

export function buildStack(app: App, site: SiteConfig): StackModel {
  const namespaceLabels = (name: string) => workloadLabels(site, name, 'namespace', site.images.plane.tag).all;
  const ns = site.kubernetes.namespace;
  const version = site.images.plane.tag;
  const namespace = new NamespaceChart(app, 'namespace', {
    name: ns,
    holdsData: {
      // The stack's own class only when the site uses it (a site may name a class of its cluster).
      retainStorageClass: site.kubernetes.storageClass === RETAIN_STORAGE_CLASS ? RETAIN_STORAGE_CLASS : undefined,
      guard: {
        name: `${ns}-keep-data`,
        labels: workloadLabels(site, 'keep-data', 'backend', version),
        // The backend image has python3 (as for the secrets bootstrap); the same small script budget.
        image: planeImage(site, PLANE_IMAGES.backend),
        runAs: BACKEND_USER,
        resources: toResourceRequirements(site.components.secretsBootstrap.resources),
        version,
        message:
          `namespace ${ns} and its PersistentVolumeClaims hold Plane's data and are kept (ValidatingAdmissionPolicy ${ns}-keep-data). ` +
          `To remove the workloads and keep the data: kubectl delete -f dist -l '!${HOLDS_DATA_LABEL}'. ` +
          'To delete the data on purpose: docs/runbook.md, "Deleting the data".',
        apiServer: kubeApiServer(site),
      },
    },
    labels: namespaceLabels('namespace'),
    priorityClasses: { labels: namespaceLabels('priority-classes') },
  });
  // Caddy has its own namespace: its exposure may need a looser Pod Security level than Plane's.
  const edgeNamespace = new NamespaceChart(app, 'edge-namespace', {
    name: site.edge.namespace,
    ...edgePodSecurity(site.edge),
    labels: namespaceLabels('edge-namespace'),
  });
  const inNamespace = { site, namespace: namespace.name };

  const postgres = new PostgresChart(app, 'postgres', inNamespace);
  const redis = new RedisChart(app, 'redis', inNamespace);
  const rabbitmq = new RabbitmqChart(app, 'rabbitmq', inNamespace);
  const objectStore = new ObjectStoreChart(app, 'object-store', inNamespace);

  const connections = {
    postgres: postgres.connection,
    redis: redis.connection,
    rabbitmq: rabbitmq.connection,
    objectStore: objectStore.connection,
  };
  const plane = new PlaneChart(app, 'plane', { ...inNamespace, connections });
  const backup = new BackupChart(app, 'backup', { ...inNamespace, postgres: postgres.connection, objectStore: objectStore.connection });
  const secrets = new SecretsChart(app, 'secrets', { ...inNamespace, consumers: [...Object.values(connections), plane, backup.backups] });

  // Served at https://<app host>/<bucket>/ only when the store is Garage in the cluster; Plane signs some
  // S3 calls for the public host, and the api makes them through the edge.
  const storeThroughEdge = objectStore.connection.servedThroughEdge;
  const edge = new EdgeChart(app, 'edge', {
    site,
    namespace: edgeNamespace.name,
    upstreams: {
      web: plane.web.serviceEndpoint,
      space: plane.space.serviceEndpoint,
      admin: plane.admin.serviceEndpoint,
      live: plane.live.serviceEndpoint,
      api: plane.api.serviceEndpoint,
      objectStore: storeThroughEdge ? objectStore.connection : undefined,
    },
    publicHostClients: storeThroughEdge ? [plane.api.peer] : [],
  });
  const edgeDns = site.edge.splitDns.coreDnsOverride ? [new EdgeDnsChart(app, 'edge-dns', { site, caddy: edge.caddy.endpoint })] : [];

  const workloads = workloadsIn(app);
  const networkPolicies = new NetworkPolicyChart(app, 'network-policies', { site, workloads });

  // Files are numbered in this order: `kubectl apply -f dist` creates the namespaces, then the
  // policies (so no pod ever runs unguarded), then the Secrets (the workloads that read them wait until
  // they exist), then the workloads.
  const charts = [
    namespace,
    edgeNamespace,
    networkPolicies,
    secrets,
    postgres,
    redis,
    rabbitmq,
    objectStore,
    plane,
    backup,
    edge,
    ...edgeDns,
  ];
  labelDataClaims(charts, namespace.name);
  const guard = namespace.guard?.guard;
  return {
    site,
    charts,
    namespaceChart: namespace,
    namespace: namespace.name,
    edgeNamespace: edgeNamespace.name,
    workloads,
    flows: networkPolicies.flows,
    secrets: secrets.bootstrap.secrets,
    users: provisioningSpec(site),
    edgeAuditLog: edge.caddy.auditLog,
    keepDataGuard: guard ? [guard.policy, guard.binding].map((o) => ({ kind: o.kind, name: o.metadata.name })) : [],
  };
}

/** Written beside dist/: the VPN resolver's record for the app host (Headscale extra records). */
export const sideFiles: SideFiles = (site) => ({
  [HEADSCALE_RECORDS_FILE]: headscaleExtraRecords(splitDnsRecords(site)),
});
