/**
 * Schema of the site file (site/javisi.yaml is the default). Everything the charts render comes from a
 * value validated here; messages name what is expected so a typo is fixed without reading this file.
 */
import * as ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { cpuToMillicores, isByteQuantity, isCpuQuantity, quantityToBytes } from './quantity';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** A tag is pinned when it names at least a major.minor release (v1.2.2, 18.1-alpine); digests are pinned too. */
const PINNED_TAG = /^v?\d+\.\d+[\w.-]*$/;
const IMAGE_REFERENCE = /^(?<repository>[a-z0-9]+([._/-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*)(:(?<tag>[\w][\w.-]{0,127}))?(@(?<digest>sha256:[a-f0-9]{64}))?$/;

const dnsLabel = z.string().regex(DNS_LABEL, 'expected a DNS label: lowercase letters, digits and "-", at most 63 characters');
const dnsName = z.string().regex(DNS_NAME, 'expected a DNS name such as ewutelo.cloud');

const cpu = z.string().refine(isCpuQuantity, 'expected a CPU quantity such as 500m or "1" (quote whole numbers)');
const bytes = z.string().refine(isByteQuantity, 'expected a quantity such as 512Mi or 1Gi');

function cidrIssue(value: string): string | undefined {
  if (!ipaddr.isValidCIDR(value)) return 'expected a CIDR such as 100.64.0.0/10 or fd7a:115c:a1e0::/48';
  const [address, prefix] = ipaddr.parseCIDR(value);
  const network = address.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(value)
    : ipaddr.IPv6.networkAddressFromCIDR(value);
  if (network.toString() !== address.toString()) {
    return `host bits are set: did you mean ${network.toString()}/${prefix}?`;
  }
  return undefined;
}

const cidr = z.string().superRefine((value, ctx) => {
  const issue = cidrIssue(value);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
});

/** IPv4 only: the worker's egress rule is an IPv4 block (k3s is single-stack IPv4 by default). */
const ipv4Cidr = cidr.refine((v) => !v.includes(':'), 'expected an IPv4 CIDR such as 10.0.0.0/8');

const ipv4Address = z.string().refine((v) => ipaddr.IPv4.isValidFourPartDecimal(v), 'expected an IPv4 address such as 137.74.114.167');

/** "docker.io/library/postgres:18.1-alpine" → parts; rejects floating or missing tags. */
export interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

function imageIssue(value: string): string | undefined {
  const match = IMAGE_REFERENCE.exec(value);
  if (!match?.groups) return 'expected an image reference such as docker.io/library/postgres:18.1-alpine';
  const { tag, digest } = match.groups;
  if (!tag && !digest) return 'the image has no tag: pin an exact version such as :18.1-alpine';
  if (tag && !PINNED_TAG.test(tag)) {
    return `tag "${tag}" is not pinned: use an exact version such as v1.2.2 or 18.1-alpine (latest, stable and bare names float)`;
  }
  return undefined;
}

const image = z.string().superRefine((value, ctx) => {
  const issue = imageIssue(value);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
});

const pinnedTag = z.string().regex(PINNED_TAG, 'expected an exact version such as v1.2.2 (latest, stable and bare names float)');

const resourceAmounts = z.strictObject({ cpu, memory: bytes });
const resources = z
  .strictObject({ requests: resourceAmounts, limits: resourceAmounts })
  .superRefine((value, ctx) => {
    // Refinements run even when a field failed its own check: compare only well-formed quantities.
    const cpus = [value.requests.cpu, value.limits.cpu];
    const memories = [value.requests.memory, value.limits.memory];
    if (cpus.every(isCpuQuantity) && cpuToMillicores(value.requests.cpu) > cpuToMillicores(value.limits.cpu)) {
      ctx.addIssue({ code: 'custom', path: ['requests', 'cpu'], message: `request ${value.requests.cpu} is above the limit ${value.limits.cpu}` });
    }
    if (memories.every(isByteQuantity) && quantityToBytes(value.requests.memory) > quantityToBytes(value.limits.memory)) {
      ctx.addIssue({ code: 'custom', path: ['requests', 'memory'], message: `request ${value.requests.memory} is above the limit ${value.limits.memory}` });
    }
  });

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
    bucket: z.string().regex(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name: 3-63 lowercase letters, digits or "-"'),
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
});

export type SiteConfig = z.infer<typeof siteConfigSchema>;
export type ResourceSpec = z.infer<typeof resources>;

/** Splits a validated image reference into repository, tag and digest. */
export function parseImageReference(value: string): ImageReference {
  const groups = IMAGE_REFERENCE.exec(value)?.groups;
  if (!groups) throw new Error(`not an image reference: ${value}`);
  return { repository: groups.repository, tag: groups.tag, digest: groups.digest };
}
