/**
 * Schema of the site file (site/javisi.yaml is the default). Everything the charts render comes from a
 * value validated here; messages name what is expected so a typo is fixed without reading this file.
 */
import { z } from 'zod';
import { PLANE_PATH_SEGMENTS } from '../edge/plane-routes';
import { checkEdgeAgainstSite, edgeConfigSchema } from './edge-config';
import { bytes, cidr, dnsLabel, dnsName, image, ipv4Address, ipv4Cidr, pinnedTag, resourceAmounts, resources } from './primitives';

const replicas = z.number().int('expected a whole number of replicas').min(1, 'expected at least 1 replica').max(10, 'expected at most 10 replicas');
const positiveInt = (what: string, max: number) =>
  z.number().int(`expected a whole number of ${what}`).min(1, `expected at least 1 ${what}`).max(max, `expected at most ${max} ${what}`);

const scalable = z.strictObject({ replicas, resources });

/** A shared server outside the cluster, used instead of the in-cluster StatefulSet. */
const externalServer = z.strictObject({
  address: ipv4Address,
  port: z.number().int().min(1, 'expected a port 1-65535').max(65535, 'expected a port 1-65535'),
});

const role = z.enum(['Admin', 'Member', 'Guest'], 'expected Admin, Member or Guest');

const agent = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'expected a short lowercase id such as builder'),
  email: z.email('expected an email address'),
  displayName: z.string().min(1).max(255),
  role,
  avatar: z.string().max(8).optional(),
});

export const siteConfigSchema = z.strictObject({
  project: z.strictObject({
    name: dnsLabel,
    displayName: z.string().min(1).max(80),
  }),
  domain: dnsName,
  hosts: z.strictObject({ app: dnsLabel, api: dnsLabel }),
  vps: z.strictObject({
    hostname: dnsLabel,
    addresses: z.array(ipv4Address).min(1, "expected the node's own IPv4 addresses"),
    cpu: positiveInt('CPUs', 256),
    memory: bytes,
    budget: resourceAmounts,
  }),
  kubernetes: z.strictObject({
    namespace: dnsLabel,
    storageClass: dnsLabel,
    podCidr: cidr,
    serviceCidr: cidr,
    /** k3s --cluster-domain; in-cluster names such as plane-caddy.plane-edge.svc.cluster.local. */
    clusterDomain: dnsName,
  }),
  network: z.strictObject({
    vpnCidrs: z.array(cidr).min(1, 'expected at least one VPN CIDR'),
    clusterDns: z.strictObject({ namespace: dnsLabel, podLabels: z.record(z.string(), z.string()) }),
    workerEgress: z.strictObject({
      ports: z.array(z.number().int().min(1, 'expected a port 1-65535').max(65535, 'expected a port 1-65535')).min(1),
      blockedCidrs: z.array(ipv4Cidr),
    }),
  }),
  images: z.strictObject({
    plane: z.strictObject({
      registry: z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, 'expected a registry path such as docker.io/makeplane'),
      tag: pinnedTag,
    }),
    postgres: image,
    redis: image,
    rabbitmq: image,
    objectStore: image,
  }),
  plane: z.strictObject({
    workspace: z.strictObject({
      slug: z.string().regex(/^[a-zA-Z0-9_-]{1,48}$/, 'expected at most 48 letters, digits, "-" or "_"'),
      name: z.string().min(1).max(80),
    }),
    fileSizeLimit: positiveInt('bytes', 1024 ** 3),
    apiKeyRateLimit: z.string().regex(/^\d+\/(second|minute|hour|day)$/, 'expected a rate such as 60/minute'),
    bucket: z.string()
      .regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name: 3-63 lowercase letters, digits or "-"')
      // The proxy serves the bucket at /<bucket>/: it must not be a path Plane's apps own.
      .refine((b) => !(PLANE_PATH_SEGMENTS as readonly string[]).includes(b), `is a path Plane's proxy sends to its apps (${PLANE_PATH_SEGMENTS.join(', ')}): choose another bucket name`),
    redisDb: z.number().int().min(0, 'expected a Redis database index 0-15').max(15, 'expected a Redis database index 0-15'),
  }),
  components: z.strictObject({
    web: scalable,
    space: scalable,
    admin: scalable,
    live: scalable,
    api: scalable.extend({ gunicornWorkers: positiveInt('gunicorn workers', 16) }),
    worker: scalable.extend({ concurrency: positiveInt('celery processes', 16) }),
    // One scheduler only: two beats would enqueue every periodic task twice.
    beatWorker: z.strictObject({ resources }),
    migrator: z.strictObject({ resources }),
  }),
  data: z.strictObject({
    postgres: z.strictObject({ database: dnsLabel, user: dnsLabel, external: externalServer.optional(), storage: bytes, resources }),
    redis: z.strictObject({
      external: externalServer.optional(),
      storage: bytes,
      maxMemory: z.string().regex(/^\d+(kb|mb|gb)$/, 'expected a Redis memory size such as 128mb'),
      resources,
    }),
    rabbitmq: z.strictObject({ user: dnsLabel, vhost: dnsLabel, storage: bytes, resources }),
    objectStore: z.strictObject({ region: dnsLabel, storage: bytes, resources }),
  }),
  users: z.strictObject({
    admin: z.strictObject({
      email: z.email('expected an email address'),
      firstName: z.string().min(1).max(255),
      displayName: z.string().min(1).max(255),
      role,
    }),
    agents: z.array(agent).superRefine((agents, ctx) => {
      for (const key of ['id', 'email'] as const) {
        const seen = new Set<string>();
        agents.forEach((a, index) => {
          if (seen.has(a[key])) ctx.addIssue({ code: 'custom', path: [index, key], message: `duplicate agent ${key} "${a[key]}"` });
          seen.add(a[key]);
        });
      }
    }),
  }),
  edge: edgeConfigSchema,
}).superRefine(checkEdgeAgainstSite);

export type SiteConfig = z.infer<typeof siteConfigSchema>;
export type { ImageReference, ResourceSpec } from './primitives';
export { parseImageReference } from './primitives';
