/**
 * Building blocks of the site schema, shared by its sections (site-config.ts, edge-config.ts). Each
 * message names what is expected so a typo is fixed without reading this file.
 */
import * as ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { cpuToMillicores, isByteQuantity, isCpuQuantity, quantityToBytes } from './quantity';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
/** A tag is pinned when it names at least a major.minor release (v1.2.2, 18.1-alpine); digests are pinned too. */
const PINNED_TAG = /^v?\d+\.\d+[\w.-]*$/;
const IMAGE_REFERENCE = /^(?<repository>[a-z0-9]+([._/-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*)(:(?<tag>[\w][\w.-]{0,127}))?(@(?<digest>sha256:[a-f0-9]{64}))?$/;

export const dnsLabel = z.string().regex(DNS_LABEL, 'expected a DNS label: lowercase letters, digits and "-", at most 63 characters');
export const dnsName = z.string().regex(DNS_NAME, 'expected a DNS name such as ewutelo.cloud');

export const cpu = z.string().refine(isCpuQuantity, 'expected a CPU quantity such as 500m or "1" (quote whole numbers)');
export const bytes = z.string().refine(isByteQuantity, 'expected a quantity such as 512Mi or 1Gi');

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

export const cidr = z.string().superRefine((value, ctx) => {
  const issue = cidrIssue(value);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
});

/** IPv4 only: the worker's egress rule is an IPv4 block (k3s is single-stack IPv4 by default). */
export const ipv4Cidr = cidr.refine((v) => !v.includes(':'), 'expected an IPv4 CIDR such as 10.0.0.0/8');

export const ipv4Address = z.string().refine((v) => ipaddr.IPv4.isValidFourPartDecimal(v), 'expected an IPv4 address such as 137.74.114.167');

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

export const image = z.string().superRefine((value, ctx) => {
  const issue = imageIssue(value);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
});

export const pinnedTag = z.string().regex(PINNED_TAG, 'expected an exact version such as v1.2.2 (latest, stable and bare names float)');

export const resourceAmounts = z.strictObject({ cpu, memory: bytes });
export const resources = z
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

export type ResourceSpec = z.infer<typeof resources>;

/** Splits a validated image reference into repository, tag and digest. */
export function parseImageReference(value: string): ImageReference {
  const groups = IMAGE_REFERENCE.exec(value)?.groups;
  if (!groups) throw new Error(`not an image reference: ${value}`);
  return { repository: groups.repository, tag: groups.tag, digest: groups.digest };
}
