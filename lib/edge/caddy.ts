import * as path from 'node:path';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { SecretKeyRef, serviceHost, ServiceEndpoint } from '../connections';
import { AppDeployment, MountedVolume } from '../constructs/app-deployment';
import { WorkloadLabels } from '../labels';
import { Peer, PortSpec } from '../network/peers';
import { callTo, Workload } from '../stack/workload';
import { httpProbes } from '../probes';
import {
  CADDY_COMMAND,
  CADDY_CONFIG_PATH,
  CADDY_DATA_PATH,
  CADDY_PORTS,
  CADDY_USER,
  CADDYFILE_PATH,
  PUBLIC_PORTS,
  TLS_SECRET_PATH,
} from './caddy-image';
import { HEALTH_PATH } from './caddyfile';

/** How clients reach Caddy. */
export type CaddyExposure =
  /** Ports 80/443 of one node address (the VPN one): the client address reaches Caddy unchanged. */
  | { readonly kind: 'hostPort'; readonly hostIp: string; readonly nodeName: string }
  /** A LoadBalancer Service (k3s ServiceLB) with externalTrafficPolicy Local; optional layer-4 allow-list. */
  | { readonly kind: 'loadBalancer'; readonly sourceRanges?: readonly string[] };

/** A volume claim keeping Caddy's data folder (certificates, ACME account, local CA) across restarts. */
export interface CaddyDataVolume {
  readonly storage: string;
  readonly storageClass: string;
}

/** The claim that keeps the access log (the audit trail) across restarts and rollouts. */
export interface CaddyAuditLogVolume {
  /** The log file the Caddyfile writes (its `log` output); its folder is the volume's mount. */
  readonly file: string;
  /** The claim's size: the bound Caddy's rolling keeps the files within. */
  readonly storage: string;
  readonly storageClass: string;
}

/** Where the audit trail is, for the commands that read it (plane-k3s audit). */
export interface CaddyAuditLogLocation {
  /** Caddy's workload: its pods mount the folder. */
  readonly workload: Workload;
  /** The folder, the claim's mount. */
  readonly directory: string;
  /** The current file's name in it; rolled ones are <stem>-<UTC time>-<reason><ext>[.gz]. */
  readonly fileName: string;
  /** The claim. */
  readonly claimName: string;
}

export interface CaddyProps {
  readonly namespace: string;
  readonly labels: WorkloadLabels;
  /** Pinned Caddy image (the official one runs as any non-root user with the settings here). */
  readonly image: string;
  readonly resources: k8s.ResourceRequirements;
  /** The Caddyfile (see renderCaddyfile); a change rolls the pod through its checksum. */
  readonly caddyfile: string;
  readonly exposure: CaddyExposure;
  /** Kubernetes TLS Secret mounted at /etc/caddy/tls (tls.crt, tls.key). @default none */
  readonly tlsSecretName?: string;
  /** @default an emptyDir: certificates are not kept (fine when they come from a Secret) */
  readonly dataVolume?: CaddyDataVolume;
  /** The access log's volume, mounted at the log file's folder (writable: the only one besides the XDG folders). */
  readonly auditLog: CaddyAuditLogVolume;
  /** Environment read from Secrets, e.g. a DNS provider's API token. @default none */
  readonly secretEnv?: Readonly<Record<string, SecretKeyRef>>;
  /** @default "plane-caddy" */
  readonly name?: string;
  /** The Services it forwards to (its only calls). */
  readonly upstreams: readonly ServiceEndpoint[];
  /** Who may connect on HTTP and HTTPS (the VPN ranges). */
  readonly clients: readonly Peer[];
  /** Pods that reach the public host through it, on HTTPS only. @default none */
  readonly httpsClients?: readonly Peer[];
  /** Its pods' PriorityClass: the stack's serving class (the classes are named after the stack's namespace, not Caddy's). */
  readonly priorityClassName: string;
}

const PORT_NAMES = { http: 'http', https: 'https', health: 'health' } as const;

/**
 * Caddy in front of Plane: a hardened Deployment running the given Caddyfile, and the Service that
 * in-cluster clients (and, with the loadBalancer exposure, everyone) reach it through.
 */
export class Caddy extends Construct {
  readonly name: string;
  /** The HTTPS endpoint inside the cluster (host is the Service's DNS name). */
  readonly endpoint: ServiceEndpoint;
  readonly deployment: AppDeployment;
  /** Ports Caddy's container listens on (what NetworkPolicies see, after the hostPort or Service DNAT). */
  readonly listenPorts: readonly PortSpec[] = [{ port: CADDY_PORTS.http }, { port: CADDY_PORTS.https }];
  readonly httpsListenPort = CADDY_PORTS.https;
  readonly auditLog: CaddyAuditLogLocation;

  constructor(scope: Construct, id: string, props: CaddyProps) {
    super(scope, id);
    const name = props.name ?? 'plane-caddy';
    this.name = name;
    const { exposure } = props;
    const hostPort = (port: number) => (exposure.kind === 'hostPort' ? { hostPort: port, hostIp: exposure.hostIp } : {});

    const volumes: MountedVolume[] = [];
    if (props.tlsSecretName) {
      volumes.push({ volume: { name: 'tls', secret: { secretName: props.tlsSecretName } }, mountPath: TLS_SECRET_PATH });
    }
    // A claim of its own, mounted writable (ACME state; the audit trail).
    const writableClaim = (id: string, mountPath: string, claim: { readonly storageClass: string; readonly storage: string }) => {
      const made = new k8s.KubePersistentVolumeClaim(this, id, {
        metadata: { name: `${name}-${id}`, namespace: props.namespace, labels: { ...props.labels.all } },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: claim.storageClass,
          resources: { requests: { storage: k8s.Quantity.fromString(claim.storage) } },
        },
      });
      volumes.push({ volume: { name: id, persistentVolumeClaim: { claimName: made.name } }, mountPath, readOnly: false });
      return made.name;
    };
    if (props.dataVolume) writableClaim('data', CADDY_DATA_PATH, props.dataVolume);

    const auditDirectory = path.posix.dirname(props.auditLog.file);
    if (!path.posix.isAbsolute(props.auditLog.file) || auditDirectory === '/') {
      throw new Error(`${name}: the audit log ${props.auditLog.file} must be a file in a folder of its own (its volume's mount)`);
    }
    const auditClaimName = writableClaim('audit-log', auditDirectory, props.auditLog);

    this.deployment = new AppDeployment(this, 'deployment', {
      namespace: props.namespace,
      name,
      labels: props.labels,
      image: props.image,
      runAs: CADDY_USER,
      resources: props.resources,
      // Two pods cannot hold the same host port: the old one must go before the new one starts.
      strategy: exposure.kind === 'hostPort' ? 'Recreate' : undefined,
      command: CADDY_COMMAND,
      env: { XDG_CONFIG_HOME: CADDY_CONFIG_PATH, XDG_DATA_HOME: CADDY_DATA_PATH },
      secretEnv: props.secretEnv,
      files: { [CADDYFILE_PATH]: props.caddyfile },
      containerPorts: [
        { name: PORT_NAMES.http, containerPort: CADDY_PORTS.http, protocol: 'TCP', ...hostPort(PUBLIC_PORTS.http) },
        { name: PORT_NAMES.https, containerPort: CADDY_PORTS.https, protocol: 'TCP', ...hostPort(PUBLIC_PORTS.https) },
        { name: PORT_NAMES.health, containerPort: CADDY_PORTS.health, protocol: 'TCP' },
      ],
      probes: httpProbes(HEALTH_PATH, PORT_NAMES.health, 60),
      writablePaths: props.dataVolume ? [CADDY_CONFIG_PATH] : [CADDY_CONFIG_PATH, CADDY_DATA_PATH],
      volumes,
      // The official image's binary has cap_net_bind_service=+ep: exec fails without it in the bounding set.
      keepNetBindService: true,
      priorityClassName: props.priorityClassName,
      // The host address exists on one node only.
      nodeSelector: exposure.kind === 'hostPort' ? { 'kubernetes.io/hostname': exposure.nodeName } : undefined,
      ownerService: { name, port: PUBLIC_PORTS.https },
      calls: props.upstreams.map(callTo),
      admits: [
        ...props.clients.map((from) => ({ from, ports: this.listenPorts })),
        ...(props.httpsClients ?? []).map((from) => ({ from, ports: [{ port: this.httpsListenPort }] })),
      ],
    });

    const selector = { ...props.labels.selector };
    const service = new k8s.KubeService(this, 'service', {
      metadata: { name, namespace: props.namespace, labels: { ...props.labels.all } },
      spec: {
        selector,
        ports: [
          { name: PORT_NAMES.http, port: PUBLIC_PORTS.http, targetPort: k8s.IntOrString.fromString(PORT_NAMES.http), protocol: 'TCP' },
          { name: PORT_NAMES.https, port: PUBLIC_PORTS.https, targetPort: k8s.IntOrString.fromString(PORT_NAMES.https), protocol: 'TCP' },
        ],
        ...(exposure.kind === 'loadBalancer'
          ? {
              type: 'LoadBalancer',
              // Only nodes running Caddy answer, and without a second hop the client address is kept.
              externalTrafficPolicy: 'Local',
              loadBalancerSourceRanges: exposure.sourceRanges ? [...exposure.sourceRanges] : undefined,
            }
          : { type: 'ClusterIP' }),
      },
    });
    this.endpoint = { host: serviceHost(service.name, props.namespace), port: PUBLIC_PORTS.https, peer: this.deployment.peer };
    this.auditLog = {
      workload: this.deployment.workload,
      directory: auditDirectory,
      fileName: path.posix.basename(props.auditLog.file),
      claimName: auditClaimName,
    };
  }
}
