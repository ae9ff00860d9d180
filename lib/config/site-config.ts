/**
 * Schema of the site file (site/javisi.yaml is the default). Everything the charts render comes from a
 * value validated here; messages name what is expected so a typo is fixed without reading this file.
 * Values that end up in Kubernetes names, labels, addresses or limits are checked here, with the
 * field's own name, so that no construct has to throw on them.
 */
import { z } from 'zod';
import { PLANE_PATH_SEGMENTS } from './plane-paths';
import { RESTRICTED_WORKSPACE_SLUGS } from './restricted-slugs';
import { planeNames, SitePerson } from './plane-names';
import { addressInCidr, cidrContains, cidrsOverlap, coveredBy, SSRF_GUARD_CIDRS } from './addresses';
import { checkEdgeAgainstSite, edgeConfigSchema } from './edge-config';
import {
  bytes,
  cidr,
  clientCidr,
  digest,
  dnsLabel,
  dnsName,
  dnsSubdomain,
  egressCidr,
  endpointAddress,
  image,
  imageRegistry,
  ipv4Cidr,
  nodeAddress,
  planeTag,
  podLabels,
  resourceAmounts,
  resources,
  ResourceSpec,
  s3Endpoint,
  serverAddress,
  shown,
  stackNamespace,
} from './primitives';
import { cronScheduleIssue } from './cron-schedule';
import { cpuToMillicores, isByteQuantity, isCpuQuantity, quantityToBytes } from './quantity';

const replicas = z
  .number()
  .int('expected a whole number of replicas')
  .min(1, 'expected at least 1 replica')
  .max(10, 'expected at most 10 replicas');
const positiveInt = (what: string, max: number) =>
  z.number().int(`expected a whole number of ${what}`).min(1, `expected at least 1 ${what}`).max(max, `expected at most ${max} ${what}`);
const port = z.number().int('expected a port 1-65535').min(1, 'expected a port 1-65535').max(65535, 'expected a port 1-65535');

const scalable = z.strictObject({ replicas, resources });
/** A CronJob's schedule as the API server reads it, that cron-parser reads too (so plane-k3s can tell the period). */
const cronSchedule = z.string().superRefine((schedule, ctx) => {
  const message = cronScheduleIssue(schedule);
  if (message) ctx.addIssue({ code: 'custom', message });
});

/** A shared server outside the cluster, used instead of the in-cluster StatefulSet. */
const externalServer = z.strictObject({ address: serverAddress, port });
/**
 * A shared PostgreSQL server; with `adminSecret` (the operator's Secret with keys username and password
 * of an admin there), a Job makes Plane's role and database on it.
 */
const externalPostgres = externalServer.extend({ adminSecret: dnsLabel.optional() });

const role = z.enum(['Admin', 'Member', 'Guest'], 'expected Admin, Member or Guest');
const email = z.email('expected an email address');

/** Agent ids become parts of Kubernetes names (the Secret plane-agent-<id>). */
const agentId = z
  .string()
  .regex(
    /^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/,
    'expected a short lowercase id such as builder: letters, digits and "-", starting with a letter, not ending with "-", at most 32 characters',
  );

/** A person's names as the site writes them; lib/config/plane-names.ts maps them onto Plane's fields. */
const personNames = {
  /** "Name (Role)", as the seed writes it. */
  displayName: z.string().min(1).max(255),
  /** @default the part of displayName before the parentheses */
  firstName: z.string().min(1).max(255).optional(),
  /** @default the part of displayName inside the parentheses */
  lastName: z.string().min(1).max(255).optional(),
};

const agent = z.strictObject({
  id: agentId,
  email,
  ...personNames,
  role,
  /** The seed's emoji; Plane cannot show it as an avatar (docs/configuration.md "Users and agents"). */
  avatar: z.string().max(8).optional(),
});

/**
 * The agents' API tokens (docs/agents.md "Token lifetime and rotation"). Without `lifetimeDays` no
 * token expires: a fixed expiry with nothing to renew it stops every agent on the same day.
 */
const tokens = z.strictObject({
  /** A token replaced in its Secret (rotation, `plane-k3s secrets rotate`) keeps working this long, then stops. */
  overlapHours: z
    .number()
    .int('expected a whole number of hours')
    .min(0, 'expected 0 or more hours')
    .max(168, 'expected at most 168 hours (a week)'),
  /** Plane refuses an agent's token this many days after it was made (APIToken.expired_at). @default never */
  lifetimeDays: z
    .number()
    .int('expected a whole number of days')
    .min(30, 'expected at least 30 days')
    .max(3650, 'expected at most 3650 days')
    .optional(),
  /** Required with lifetimeDays: the CronJob that replaces each token before it expires. */
  rotation: z
    .strictObject({
      /** Five-field cron schedule, UTC: each run replaces the tokens that expire within daysBeforeExpiry. */
      schedule: cronSchedule,
      daysBeforeExpiry: z
        .number()
        .int('expected a whole number of days')
        .min(15, 'expected at least 15 days (verify warns 14 days before a token expires: rotation must come first)'),
    })
    .optional(),
});

/** "128mb" → bytes, as Redis reads its units (kb, mb, gb are powers of 1024). */
export function redisMemoryToBytes(value: string): number {
  const match = /^(\d+)(kb|mb|gb)$/.exec(value);
  if (!match) throw new Error(`not a Redis memory size: ${value}`);
  return Number(match[1]) * { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[match[2] as 'kb' | 'mb' | 'gb'];
}
/** Share of the container limit Valkey's data may take: the rest is its own overhead and buffers. */
export const REDIS_MAXMEMORY_SHARE = 0.75;
/** RabbitMQ (an Erlang VM) does not start in less. */
export const RABBITMQ_MIN_MEMORY = '128Mi';

const planeImages = z.strictObject({
  registry: imageRegistry,
  tag: planeTag,
  /** Optional digest per image (each of Plane's images has its own). */
  digests: z.strictObject({ frontend: digest, space: digest, admin: digest, live: digest, backend: digest }).partial().optional(),
});

/**
 * The stack's own StorageClass (made in dist/ when the site names it): k3s' local-path provisioner with
 * reclaim Retain, so deleting a claim does not erase its volume (k3s' own `local-path` has Delete).
 */
export const RETAIN_STORAGE_CLASS = 'plane-retain';

export const siteConfigSchema = z
  .strictObject({
    project: z.strictObject({
      name: dnsLabel,
      displayName: z.string().min(1).max(80),
    }),
    domain: dnsName,
    hosts: z.strictObject({ app: dnsLabel, api: dnsLabel }),
    vps: z.strictObject({
      /** The node's name: a Kubernetes node name and the value of its kubernetes.io/hostname label. */
      hostname: dnsSubdomain.max(63, "expected at most 63 characters: it is the value of the node's kubernetes.io/hostname label"),
      addresses: z.array(nodeAddress).min(1, "expected the node's own IPv4 addresses"),
      cpu: positiveInt('CPUs', 256),
      memory: bytes,
      budget: resourceAmounts,
    }),
    kubernetes: z.strictObject({
      namespace: stackNamespace,
      storageClass: dnsSubdomain,
      podCidr: clientCidr,
      serviceCidr: cidr,
      /** k3s --cluster-domain; in-cluster names such as plane-caddy.plane-edge.svc.cluster.local. */
      clusterDomain: dnsName,
      /**
       * Port of the API server on the node (k3s --https-listen-port): the secrets bootstrap Job's
       * NetworkPolicy lets it reach vps.addresses on it (policies see the node address after DNAT).
       */
      apiServerPort: port,
    }),
    network: z.strictObject({
      vpnCidrs: z.array(clientCidr).min(1, 'expected at least one VPN CIDR'),
      clusterDns: z.strictObject({ namespace: dnsLabel, podLabels }),
      workerEgress: z.strictObject({
        ports: z.array(port).min(1, 'expected at least one port'),
        blockedCidrs: z
          .array(
            ipv4Cidr.refine(
              (c) => !c.endsWith('/0'),
              'a /0 cannot be an exception of 0.0.0.0/0 (the API server refuses it): list the ranges to block',
            ),
          )
          .min(1, `expected the ranges the worker must never reach (at least ${SSRF_GUARD_CIDRS.join(', ')}): the webhook SSRF guard`),
      }),
    }),
    images: z.strictObject({
      plane: planeImages,
      postgres: image,
      redis: image,
      rabbitmq: image,
      objectStore: image,
      /** rclone: the backups' copy of the uploads (and their way back at a restore). */
      rclone: image,
      /** restic: the backups' encryption, retention, checks and off-site copy. */
      restic: image,
    }),
    plane: z.strictObject({
      workspace: z.strictObject({
        slug: z
          .string()
          .regex(/^[a-zA-Z0-9_-]{1,48}$/, 'expected at most 48 letters, digits, "-" or "_"')
          .refine(
            (slug) => !RESTRICTED_WORKSPACE_SLUGS.includes(slug.toLowerCase()),
            "is a route of Plane's web app, which Plane refuses as a workspace slug: choose another",
          ),
        name: z.string().min(1).max(80),
      }),
      fileSizeLimit: positiveInt('bytes', 1024 ** 3),
      apiKeyRateLimit: z.string().regex(/^[1-9]\d{0,5}\/(second|minute|hour|day)$/, 'expected a rate such as 60/minute'),
      bucket: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name: 3-63 lowercase letters, digits or "-"')
        // The proxy serves the bucket at /<bucket>/: it must not be a path Plane's apps own.
        .refine(
          (b) => !(PLANE_PATH_SEGMENTS as readonly string[]).includes(b),
          `is a path Plane's proxy sends to its apps (${PLANE_PATH_SEGMENTS.join(', ')}): choose another bucket name`,
        ),
      redisDb: z.number().int().min(0, 'expected a Redis database index 0-15').max(15, 'expected a Redis database index 0-15'),
      /** Who may get in and what leaves: a private instance unless the site says otherwise. */
      access: z.strictObject({
        /** Anyone reaching the host may create an account (ENABLE_SIGNUP). */
        signUp: z.boolean('expected true or false'),
        /** Members may create workspaces (DISABLE_WORKSPACE_CREATION); otherwise instance admins only. */
        workspaceCreationByMembers: z.boolean('expected true or false'),
        /** Plane's telemetry (Instance.is_telemetry_enabled); its exporter is pointed at loopback regardless. */
        telemetry: z.boolean('expected true or false'),
      }),
    }),
    components: z.strictObject({
      web: scalable,
      space: scalable,
      admin: scalable,
      live: scalable,
      api: scalable.extend({ gunicornWorkers: positiveInt('gunicorn workers', 16) }),
      worker: scalable.extend({
        concurrency: positiveInt('celery processes', 16),
        /** A worker process above this resident size (KiB) is replaced after its task (celery --max-memory-per-child). */
        maxMemoryPerChildKiB: positiveInt('KiB', 16 * 1024 ** 2),
      }),
      // One scheduler only: two beats would enqueue every periodic task twice.
      beatWorker: z.strictObject({ resources }),
      migrator: z.strictObject({ resources }),
      /** The Job that creates missing Secrets (python3, a few seconds). */
      secretsBootstrap: z.strictObject({ resources }),
      /** The Job that converges Plane's users to `users:` (Django, through manage.py shell). */
      provisioning: z.strictObject({ resources }),
      /** The Job that makes Plane's role and database on a shared PostgreSQL (psql; only with data.postgres.external.adminSecret). */
      postgresBootstrap: z.strictObject({ resources }),
    }),
    data: z.strictObject({
      // Each data service is either in the cluster (its volume and resources) or a server elsewhere
      // (`external`): one explicit choice, checked in inClusterOrExternal.
      postgres: z
        .strictObject({
          database: dnsLabel,
          user: dnsLabel,
          external: externalPostgres.optional(),
          storage: bytes.optional(),
          resources: resources.optional(),
        })
        .superRefine(inClusterOrExternal('PostgreSQL', ['storage', 'resources']))
        .transform((s) => s as { database: string; user: string } & Placed<InClusterVolume, z.infer<typeof externalPostgres>>),
      redis: z
        .strictObject({
          external: externalServer.optional(),
          storage: bytes.optional(),
          maxMemory: z
            .string()
            .regex(/^[1-9]\d{0,9}(kb|mb|gb)$/, 'expected a Redis memory size such as 128mb')
            .optional(),
          resources: resources.optional(),
        })
        .superRefine(inClusterOrExternal('Redis', ['storage', 'maxMemory', 'resources']))
        .transform((s) => s as Placed<InClusterVolume & { maxMemory: string }, z.infer<typeof externalServer>>),
      rabbitmq: z.strictObject({ user: dnsLabel, vhost: dnsLabel, storage: bytes, resources }),
      objectStore: z
        .strictObject({
          region: dnsLabel,
          storage: bytes.optional(),
          resources: resources.optional(),
          /**
           * An S3 service elsewhere (a real S3, a Garage cluster), instead of the in-cluster Garage: the bucket
           * plane.bucket there, reached at `endpoint` by Plane and by the browsers (docs/configuration.md "Data").
           */
          external: z
            .strictObject({
              endpoint: s3Endpoint('the https:// URL of the S3 service'),
              /** Secret of the operator's in the stack's namespace, keys access-key-id and secret-access-key. */
              credentialsSecret: dnsLabel,
              /** The service's address ranges: the api, the worker and the backups reach them on 443 only. */
              cidrs: z.array(egressCidr).min(1, "expected the S3 service's address ranges"),
            })
            .optional(),
        })
        .superRefine(inClusterOrExternal('object store', ['storage', 'resources']))
        .transform((s) => s as { region: string } & Placed<InClusterVolume, NonNullable<typeof s.external>>),
    }),
    backup: z.strictObject({
      /** Five-field cron schedule, UTC. */
      schedule: cronSchedule,
      /** Snapshots kept in the encrypted repository on the backup volume (one a run). */
      keep: positiveInt('snapshots', 365),
      /** The backup volume (the encrypted repository), and each backup pod's scratch space. */
      storage: bytes,
      /** The restore drill: the latest backup restored into a throw-away server and checked. */
      drill: z.strictObject({
        /** Five-field cron schedule, UTC; plane-k3s verify fails when no drill passed within its period + 1 day. */
        schedule: cronSchedule,
      }),
      /** An upgrade rehearsal's migration step (plane-k3s upgrade --rehearse): the target's migrations on a copy. */
      rehearsal: z.strictObject({ resources }),
      resources,
      /** An S3 bucket elsewhere that receives a copy of every snapshot (encrypted). @default none */
      offsite: z
        .strictObject({
          endpoint: s3Endpoint('an https:// URL of the S3 service'),
          bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name'),
          region: dnsLabel,
          /** Secret in the stack's namespace with keys access-key-id and secret-access-key (the operator's). */
          credentialsSecret: dnsLabel,
          /** The service's addresses: the backup pods' only way out (NetworkPolicy, port 443). */
          cidrs: z.array(egressCidr).min(1, "expected the S3 service's address ranges"),
        })
        .optional(),
    }),
    users: z.strictObject({
      admin: z.strictObject({ email, ...personNames, role }),
      agents: z.array(agent),
      tokens,
    }),
    edge: edgeConfigSchema,
  })
  .superRefine((site, ctx) => {
    checkHosts(site, ctx);
    checkBudgetAgainstVps(site, ctx);
    checkEgressGuard(site, ctx);
    checkClusterRanges(site, ctx);
    checkEgressDestinations(site, ctx);
    checkWorkerMemoryCap(site, ctx);
    checkExternalServers(site, ctx);
    checkDataLimits(site, ctx);
    checkUsers(site, ctx);
    checkEdgeAgainstSite(site, ctx);
  });

export type SiteConfig = z.infer<typeof siteConfigSchema>;

/** What an in-cluster data service is given: its volume and resources. */
interface InClusterVolume {
  storage: string;
  resources: ResourceSpec;
}

/**
 * A data service in the cluster or on a server elsewhere, as the schema has checked it (exactly one):
 * `if (settings.external)` narrows to the server, `else` to the in-cluster fields, which are then set.
 */
export type Placed<InCluster, External> =
  ({ external: External } & { [K in keyof InCluster]?: undefined }) | ({ external?: undefined } & InCluster);

/**
 * In the cluster, a data service needs its volume and resources; with `external`, they would be unused,
 * so they are refused: a stale field is noticed rather than silently ignored.
 */
function inClusterOrExternal(what: string, inClusterFields: readonly string[]) {
  return (service: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const external = service.external !== undefined;
    for (const field of inClusterFields) {
      if (external && service[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `not used with external (the ${what} is elsewhere): remove it` });
      } else if (!external && service[field] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `missing: an in-cluster ${what} needs it (or set external to use a server elsewhere)`,
        });
      }
    }
  };
}
export type { ImageReference, ResourceSpec } from './primitives';
export { parseImageReference } from './primitives';

// Cross-section checks. Refinements run even when a field failed its own check, so each looks at
// well-formed values only (the field's own message already says what is wrong with the others).
type Site = z.infer<typeof siteConfigSchema>;
type Ctx = z.RefinementCtx;
const issue = (ctx: Ctx, path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
const text = (value: unknown): value is string => typeof value === 'string';

function checkHosts(site: Site, ctx: Ctx): void {
  const { hosts, domain } = site;
  if (text(hosts?.app) && text(domain) && hosts.app.length + 1 + domain.length > 253) {
    issue(
      ctx,
      ['hosts', 'app'],
      `the app host ${shown(`${hosts.app}.${domain}`)} is longer than 253 characters: shorten hosts.app or domain`,
    );
  }
}

function checkBudgetAgainstVps(site: Site, ctx: Ctx): void {
  const { vps } = site;
  if (
    text(vps?.budget?.cpu) &&
    isCpuQuantity(vps.budget.cpu) &&
    Number.isInteger(vps.cpu) &&
    cpuToMillicores(vps.budget.cpu) > vps.cpu * 1000
  ) {
    issue(ctx, ['vps', 'budget', 'cpu'], `${vps.budget.cpu} is more than the VPS has (vps.cpu: ${vps.cpu})`);
  }
  if (
    text(vps?.budget?.memory) &&
    text(vps.memory) &&
    isByteQuantity(vps.budget.memory) &&
    isByteQuantity(vps.memory) &&
    quantityToBytes(vps.budget.memory) > quantityToBytes(vps.memory)
  ) {
    issue(ctx, ['vps', 'budget', 'memory'], `${vps.budget.memory} is more than the VPS has (vps.memory: ${vps.memory})`);
  }
}

/** The worker's internet egress must exclude the SSRF guard and the cluster's own ranges. */
function checkEgressGuard(site: Site, ctx: Ctx): void {
  const blocked = site.network?.workerEgress?.blockedCidrs;
  if (!Array.isArray(blocked) || blocked.length === 0 || !blocked.every((c) => text(c) && ipv4Cidr.safeParse(c).success)) return;
  const required: [string, string][] = SSRF_GUARD_CIDRS.map((c) => [c, 'SSRF guard']);
  for (const [name, value] of [
    ['kubernetes.podCidr', site.kubernetes?.podCidr],
    ['kubernetes.serviceCidr', site.kubernetes?.serviceCidr],
  ] as const) {
    if (text(value) && !value.includes(':') && cidr.safeParse(value).success) required.push([value, name]);
  }
  for (const [range, why] of required) {
    if (!coveredBy(range, blocked)) {
      issue(
        ctx,
        ['network', 'workerEgress', 'blockedCidrs'],
        `must block ${range} (${why}): add it, or the worker's webhooks could reach it`,
      );
    }
  }
}

/** The cluster's and the VPN's ranges, as the site names them (well-formed ones only). */
function namedRanges(site: Site): { pod?: [string, string]; service?: [string, string]; vpn: [string, string][] } {
  const valid = (value: unknown): value is string => text(value) && cidr.safeParse(value).success;
  const { podCidr, serviceCidr } = site.kubernetes ?? {};
  const vpn = Array.isArray(site.network?.vpnCidrs) ? site.network.vpnCidrs : [];
  return {
    pod: valid(podCidr) ? ['kubernetes.podCidr', podCidr] : undefined,
    service: valid(serviceCidr) ? ['kubernetes.serviceCidr', serviceCidr] : undefined,
    vpn: vpn.flatMap((c, i): [string, string][] => (valid(c) ? [[`network.vpnCidrs[${i}]`, c]] : [])),
  };
}

/**
 * Pods, Services and VPN clients need addresses of their own: where two ranges overlap, a policy meant
 * for one admits the other (VPN-only lets pods in as VPN clients) and replies go to the wrong side.
 */
function checkClusterRanges(site: Site, ctx: Ctx): void {
  const { pod, service, vpn } = namedRanges(site);
  if (pod && service && cidrsOverlap(pod[1], service[1])) {
    issue(
      ctx,
      ['kubernetes', 'serviceCidr'],
      pod[1] === service[1]
        ? `${service[1]} is also kubernetes.podCidr: Services need a range of their own (k3s: 10.43.0.0/16 beside pods' 10.42.0.0/16)`
        : `${service[1]} overlaps kubernetes.podCidr (${pod[1]}): Services need a range of their own (k3s: 10.43.0.0/16 beside pods' 10.42.0.0/16)`,
    );
  }
  for (const [field, range] of [pod, service].filter((r) => r !== undefined)) {
    for (const [vpnName, vpnRange] of vpn) {
      if (cidrsOverlap(range, vpnRange)) {
        issue(
          ctx,
          field.split('.'),
          `${range} overlaps ${vpnName} (${vpnRange}): cluster and VPN addresses must be distinct, or VPN-only admits pods as VPN clients and replies to VPN clients stay in the cluster`,
        );
      }
    }
  }
  const addresses = site.vps?.addresses;
  if (!Array.isArray(addresses)) return;
  addresses.forEach((address, index) => {
    if (!text(address) || !nodeAddress.safeParse(address).success) return;
    for (const [name, range] of [pod, service].filter((r) => r !== undefined)) {
      if (!range.includes(':') && addressInCidr(address, range)) {
        issue(
          ctx,
          ['vps', 'addresses', index],
          `${address} is inside ${name} (${range}): list the node's own addresses (ip -4 addr on the VPS)`,
        );
      }
    }
  });
}

/**
 * An S3 service's address ranges are opened on 443 to the api, the worker and the backups: never the
 * cluster's own ranges, nor the VPN's machines (only a single server on the VPN, a /32); and an
 * endpoint written as an address must be inside them, or the NetworkPolicy blocks it.
 */
function checkEgressDestinations(site: Site, ctx: Ctx): void {
  const { pod, service, vpn } = namedRanges(site);
  const targets = [
    [['backup', 'offsite'], site.backup?.offsite],
    [['data', 'objectStore', 'external'], site.data?.objectStore?.external],
  ] as const;
  for (const [path, target] of targets) {
    if (!target || !Array.isArray(target.cidrs)) continue;
    const cidrs = target.cidrs.filter((c) => text(c) && egressCidr.safeParse(c).success);
    target.cidrs.forEach((entry, index) => {
      if (!cidrs.includes(entry)) return;
      const at = [...path, 'cidrs', index];
      for (const [name, range] of [pod, service].filter((r) => r !== undefined)) {
        if (cidrsOverlap(entry, range)) {
          issue(
            ctx,
            at,
            `${entry} overlaps ${name} (${range}): the cluster is not a service elsewhere; list the S3 service's own addresses`,
          );
        }
      }
      for (const [name, range] of vpn) {
        if (cidrsOverlap(entry, range) && !(entry.endsWith('/32') && cidrContains(range, entry))) {
          issue(
            ctx,
            at,
            `${entry} overlaps ${name} (${range}), the VPN's machines: list the S3 server's own address as a /32 if it is on the VPN`,
          );
        }
      }
    });
    const address = text(target.endpoint) ? endpointAddress(target.endpoint) : undefined;
    if (address && cidrs.length === target.cidrs.length && !cidrs.some((c) => addressInCidr(address, c))) {
      issue(
        ctx,
        [...path, 'endpoint'],
        `the endpoint's address ${address} is not inside cidrs: add ${address}/32, or the pods cannot reach it`,
      );
    }
  }
}

/** Celery replaces a child above --max-memory-per-child only after its task: a cap at the container limit can never act. */
function checkWorkerMemoryCap(site: Site, ctx: Ctx): void {
  const worker = site.components?.worker;
  const cap = worker?.maxMemoryPerChildKiB;
  const limit = worker?.resources?.limits?.memory;
  if (!Number.isInteger(cap) || !text(limit) || !bytes.safeParse(limit).success) return;
  const limitKiB = Math.floor(quantityToBytes(limit) / 1024);
  if (cap >= limitKiB) {
    issue(
      ctx,
      ['components', 'worker', 'maxMemoryPerChildKiB'],
      `${cap} KiB is not below the worker's memory limit ${limit} (${limitKiB} KiB): the container is OOM-killed before a child reaches it; set it well below the limit`,
    );
  }
}

/** An external server must not sit in the cluster's own ranges: it would be a pod or a Service, not a server. */
function checkExternalServers(site: Site, ctx: Ctx): void {
  for (const service of ['postgres', 'redis'] as const) {
    const address = site.data?.[service]?.external?.address;
    if (!text(address) || !serverAddress.safeParse(address).success) continue;
    for (const [name, range] of [
      ['kubernetes.podCidr', site.kubernetes?.podCidr],
      ['kubernetes.serviceCidr', site.kubernetes?.serviceCidr],
    ] as const) {
      if (text(range) && cidr.safeParse(range).success && addressInCidr(address, range)) {
        issue(
          ctx,
          ['data', service, 'external', 'address'],
          `${address} is inside ${name} (${range}): give the server's own address, outside the cluster's ranges`,
        );
      }
    }
  }
}

function checkDataLimits(site: Site, ctx: Ctx): void {
  const redis = site.data?.redis;
  const redisLimit = redis?.resources?.limits?.memory;
  if (text(redis?.maxMemory) && /^[1-9]\d*(kb|mb|gb)$/.test(redis.maxMemory) && text(redisLimit) && bytes.safeParse(redisLimit).success) {
    const ceiling = quantityToBytes(redisLimit) * REDIS_MAXMEMORY_SHARE;
    if (redisMemoryToBytes(redis.maxMemory) > ceiling) {
      issue(
        ctx,
        ['data', 'redis', 'maxMemory'],
        `${redis.maxMemory} does not fit the container limit ${redisLimit}: keep it at most ${REDIS_MAXMEMORY_SHARE * 100} % of the limit (${Math.floor(ceiling / 1024 ** 2)}mb), Valkey needs the rest`,
      );
    }
  }
  const rabbitLimit = site.data?.rabbitmq?.resources?.limits?.memory;
  if (text(rabbitLimit) && bytes.safeParse(rabbitLimit).success && quantityToBytes(rabbitLimit) < quantityToBytes(RABBITMQ_MIN_MEMORY)) {
    issue(
      ctx,
      ['data', 'rabbitmq', 'resources', 'limits', 'memory'],
      `${rabbitLimit} is too little for RabbitMQ: give it at least ${RABBITMQ_MIN_MEMORY}`,
    );
  }
}

/** E-mails are compared as Plane stores them (lower-cased); ids name Secrets. */
function checkUsers(site: Site, ctx: Ctx): void {
  const agents = site.users?.agents;
  if (!Array.isArray(agents)) return;
  const adminEmail = text(site.users.admin?.email) ? site.users.admin.email.toLowerCase() : undefined;
  const seen = { id: new Map<string, number>(), email: new Map<string, number>() };
  agents.forEach((agent, index) => {
    if (!agent || typeof agent !== 'object') return;
    for (const key of ['id', 'email'] as const) {
      if (!text(agent[key])) continue;
      const value = key === 'email' ? agent[key].toLowerCase() : agent[key];
      const first = seen[key].get(value);
      if (first !== undefined)
        issue(ctx, ['users', 'agents', index, key], `duplicate agent ${key} ${shown(agent[key])} (also users.agents[${first}])`);
      else seen[key].set(value, index);
    }
    if (text(agent.email) && agent.email.toLowerCase() === adminEmail) {
      issue(ctx, ['users', 'agents', index, 'email'], `${shown(agent.email)} is the admin's e-mail: each agent needs its own Plane user`);
    }
    checkNames(agent, ['users', 'agents', index], ctx);
  });
  if (site.users.admin && typeof site.users.admin === 'object') checkNames(site.users.admin, ['users', 'admin'], ctx);
  checkTokenLifetime(site, ctx);
}

/** A lifetime comes with its rotation, which runs long enough before the end to be retried. */
function checkTokenLifetime(site: Site, ctx: Ctx): void {
  const tokens = site.users?.tokens;
  if (!tokens || typeof tokens !== 'object') return;
  const { lifetimeDays, rotation } = tokens;
  const at = ['users', 'tokens'];
  if (typeof lifetimeDays === 'number' && !rotation) {
    issue(
      ctx,
      [...at, 'rotation'],
      `a token lifetime needs its rotation: add rotation: { schedule: "17 3 * * *", daysBeforeExpiry: 21 }, or remove lifetimeDays (tokens that never expire)`,
    );
  }
  if (rotation && typeof lifetimeDays !== 'number') {
    issue(
      ctx,
      [...at, 'rotation'],
      'rotation without lifetimeDays: no token expires, none would be rotated; set lifetimeDays or remove rotation',
    );
  }
  if (typeof lifetimeDays === 'number' && typeof rotation?.daysBeforeExpiry === 'number' && rotation.daysBeforeExpiry + 7 > lifetimeDays) {
    issue(
      ctx,
      [...at, 'rotation', 'daysBeforeExpiry'],
      `${rotation.daysBeforeExpiry} days before a ${lifetimeDays}-day lifetime would rotate every token within its first week: at most ${lifetimeDays - 7}`,
    );
  }
}

/** Names Plane's profile form would refuse to save. */
function checkNames(person: Partial<SitePerson>, path: PropertyKey[], ctx: Ctx): void {
  if (
    !text(person.displayName) ||
    (person.firstName !== undefined && !text(person.firstName)) ||
    (person.lastName !== undefined && !text(person.lastName))
  )
    return;
  for (const problem of planeNames(person as SitePerson).problems) issue(ctx, [...path, problem.field], problem.message);
}
