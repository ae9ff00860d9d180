/**
 * Building blocks of the site schema, shared by its sections (site-config.ts, edge-config.ts). Each
 * message names what is expected so a typo is fixed without reading this file; values echoed in a
 * message are cut (`shown`), so a huge value cannot flood the terminal.
 */
import { z } from 'zod';
import {
  addressIssue,
  cidrIssue,
  egressCidrIssue,
  IpKind,
  isNonPublicCidr,
  NON_PUBLIC_CIDRS,
  serverAddressIssue,
  unicastAddressIssue,
} from './addresses';
import { SUPPORTED_PLANE_TAGS } from './plane-releases';
import { cpuToMillicores, fractionalBytesIssue, isByteQuantity, isCpuQuantity, quantityToBytes } from './quantity';

/** A value as shown in a message: quoted, at most 40 characters. */
export function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** A refinement from a function that returns what is wrong, or undefined. */
function checked<T extends z.ZodType>(schema: T, issue: (value: z.output<T>) => string | undefined): T {
  return schema.superRefine((value, ctx) => {
    const message = issue(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  }) as unknown as T;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** A Kubernetes label value (also an image tag, which becomes app.kubernetes.io/version). */
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;
/** A tag is pinned when it names at least a major.minor release (v1.2.2, 18.1-alpine). */
const PINNED_TAG = /^v?\d+\.\d+[\w.-]*$/;
/** An image tag as the distribution reference grammar has it. */
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/;
/** A path component of an image name: lowercase alphanumerics joined by ".", "_", "__" or "-"s. */
const PATH_COMPONENT = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/;
/** A label of a registry host name (lowercase, as the site writes it). */
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

export const dnsLabel = z
  .string()
  .regex(
    DNS_LABEL,
    'expected a DNS label: lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit',
  );
/** Names Kubernetes allows to contain dots: storage classes, nodes. */
export const dnsSubdomain = z
  .string()
  .regex(DNS_SUBDOMAIN, 'expected a DNS subdomain: lowercase letters, digits, "-" and ".", at most 253 characters');

/** A registered domain name (not an IP address, not a single label). */
export const dnsName = checked(z.string(), (value) => {
  if (!DNS_SUBDOMAIN.test(value) || !value.includes('.')) return 'expected a DNS name such as ewutelo.cloud';
  if (/^\d+$/.test(value.slice(value.lastIndexOf('.') + 1))) return 'expected a DNS name such as ewutelo.cloud, not an IP address';
  return undefined;
});

/** Namespaces the cluster itself owns: labelling them restricted and default-deny would break it. */
export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;

/** A namespace of the stack's own. */
export const stackNamespace = checked(dnsLabel, (value) =>
  (SYSTEM_NAMESPACES as readonly string[]).includes(value) || value.startsWith('kube-')
    ? `${shown(value)} is a namespace of the cluster itself: the stack would label it restricted, default-deny it and guard it against deletion; choose a namespace of its own such as plane`
    : undefined,
);

/** A Kubernetes label key: optional DNS-subdomain prefix, then a name of at most 63 characters. */
const labelKey = checked(z.string(), (key) => {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  const nameOk = name.length > 0 && LABEL_VALUE.test(name);
  return nameOk && (prefix === undefined || DNS_SUBDOMAIN.test(prefix))
    ? undefined
    : `label key ${shown(key)} is not valid: expected [prefix/]name, name at most 63 letters, digits, "-", "_" or "." starting and ending alphanumeric`;
});
const labelValue = z
  .string()
  .regex(LABEL_VALUE, 'expected a label value: at most 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric');
/** A non-empty label selector (an empty one would select every pod). */
export const podLabels = z
  .record(labelKey, labelValue)
  .refine((labels) => Object.keys(labels).length > 0, 'expected at least one label: an empty selector matches every pod');

export const cpu = checked(z.string(), (value) => {
  if (!isCpuQuantity(value)) return 'expected a CPU quantity such as 500m or "1" (quote whole numbers)';
  return cpuToMillicores(value) < 1 ? 'expected a CPU quantity of at least 1m' : undefined;
});
export const bytes = checked(z.string(), (value) => {
  if (/^\d+(\.\d+)?m$/.test(value)) {
    // Kubernetes reads "512m" as 0.512 bytes (m is milli), not megabytes as Docker or the JVM do.
    return `${shown(value)} is thousandths of a byte (m means milli): write Mi or M, e.g. ${value.slice(0, -1)}Mi`;
  }
  if (!isByteQuantity(value)) return 'expected a quantity such as 512Mi or 1Gi';
  const fractional = fractionalBytesIssue(value);
  if (fractional) return `${fractional}: write a whole number of bytes, such as 512Mi`;
  const amount = quantityToBytes(value);
  if (amount < 1) return 'expected a quantity above zero, such as 512Mi';
  return Number.isSafeInteger(amount) && amount <= 2 ** 50 ? undefined : 'expected a quantity of at most 1Pi';
});

const cidrOf = (kinds: readonly IpKind[]) => checked(z.string(), (value) => cidrIssue(value, kinds));
export const cidr = cidrOf(['ipv4', 'ipv6']);
/** IPv4 only: the worker's egress rule is an IPv4 block (k3s is single-stack IPv4 by default). */
export const ipv4Cidr = cidrOf(['ipv4']);

/**
 * A range of clients that is let in (VPN clients, pods): it must lie inside address space that is never
 * routed on the internet, or "VPN-only" would silently admit part of it. `edge.vpnEnforce: false` is
 * the one way to open the edge.
 */
export const clientCidr = checked(cidr, (value) =>
  cidrIssue(value) === undefined && !isNonPublicCidr(value)
    ? `${value} contains public addresses, so VPN-only would let them in: use a range inside ${NON_PUBLIC_CIDRS.join(', ')} (edge.vpnEnforce: false is the switch that opens the edge)`
    : undefined,
);

export const ipv4Address = checked(z.string(), (value) => addressIssue(value, ['ipv4']));

/** The address of a server outside the cluster, as an EndpointSlice and a NetworkPolicy name it. */
export const serverAddress = checked(ipv4Address, (value) => (addressIssue(value, ['ipv4']) ? undefined : serverAddressIssue(value)));

/** One of the node's own addresses (vps.addresses): a unicast address of one machine. */
export const nodeAddress = checked(ipv4Address, (value) =>
  addressIssue(value, ['ipv4']) ? undefined : unicastAddressIssue(value, "list the node's own addresses (ip -4 addr on the VPS)"),
);

/**
 * A destination the stack opens port 443 to (an S3 service's address ranges): an IPv4 CIDR of at most
 * /12, never loopback, link-local (metadata), multicast or reserved space (lib/config/addresses.ts
 * explains the bound). The site schema also keeps it off the cluster's and the VPN's ranges.
 */
export const egressCidr = checked(ipv4Cidr, (value) => (cidrIssue(value, ['ipv4']) ? undefined : egressCidrIssue(value)));

const IPV4_LITERAL = /^[\d.]+$/;

/**
 * The https:// URL of an S3 service, written into ConfigMaps in dist/ (committed) and handed to Plane,
 * rclone and restic, which append the bucket to it: scheme, host and optional port only. Credentials
 * belong in the Secret named by credentialsSecret; a message never repeats the URL, which may hold them.
 */
export const s3Endpoint = (expected: string) =>
  checked(z.string(), (value) => s3EndpointIssue(value, `expected ${expected}, such as https://s3.eu-west-3.example.org`)).meta({
    format: 'uri',
  });

function s3EndpointIssue(value: string, expected: string): string | undefined {
  if (value.includes('@')) {
    return 'must not hold credentials (user:password@ or "@"): the manifests are committed; put the keys in the Secret named by credentialsSecret';
  }
  const match = /^https:\/\/(?<authority>[^/?#\\]*)(?<rest>.*)$/s.exec(value);
  if (!match?.groups) return expected;
  const { authority, rest } = match.groups;
  if (authority.startsWith('[')) return `${expected}: use its DNS name or IPv4 address (the egress rules are IPv4)`;
  if (/[?#]/.test(rest)) return 'must not have a query (?…) or fragment (#…): an S3 endpoint is https://host[:port]';
  if (rest !== '' && rest !== '/') {
    return 'must not have a path: the bucket is appended to the endpoint (restic reads the first path segment as the bucket); write https://host[:port]';
  }
  const colon = authority.lastIndexOf(':');
  const [host, port] = colon < 0 ? [authority, undefined] : [authority.slice(0, colon), authority.slice(colon + 1)];
  if (port !== undefined && (!/^[1-9]\d{0,4}$/.test(port) || Number(port) > 65535)) return `${expected}: the port must be 1-65535`;
  if (IPV4_LITERAL.test(host)) {
    const issue = addressIssue(host, ['ipv4']) ?? unicastAddressIssue(host, "give the S3 service's own address or its DNS name");
    return issue ? `the endpoint's host: ${issue}` : undefined;
  }
  return DNS_SUBDOMAIN.test(host) && host.includes('.') && !/^\d+$/.test(host.slice(host.lastIndexOf('.') + 1))
    ? undefined
    : `${expected}: the host must be a lowercase DNS name with a dot, or an IPv4 address`;
}

/** The host of a valid S3 endpoint, when it is an IPv4 address. */
export function endpointAddress(endpoint: string): string | undefined {
  if (s3EndpointIssue(endpoint, '') !== undefined) return undefined;
  const host = /^https:\/\/([^/:]*)/.exec(endpoint)?.[1];
  return host !== undefined && IPV4_LITERAL.test(host) ? host : undefined;
}

/** "docker.io/library/postgres:18.1-alpine" → parts; rejects floating or missing tags. */
export interface ImageReference {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

function tagIssue(tag: string): string | undefined {
  if (!PINNED_TAG.test(tag)) {
    return `tag ${shown(tag)} is not pinned: use an exact version such as v1.2.2 or 18.1-alpine (latest, stable and bare names float)`;
  }
  if (!LABEL_VALUE.test(tag)) {
    return `tag ${shown(tag)} cannot be the version label (app.kubernetes.io/version): at most 63 characters, ending with a letter or digit`;
  }
  return undefined;
}

/**
 * Why `name` (an image name without tag, or a registry path) is not valid, or undefined: the
 * distribution reference grammar, as containerd parses it. A first component with a "." or a ":"
 * (or localhost) is the registry host[:port]; `hostRequired` says it must be there.
 */
function imageNameIssue(name: string, hostRequired: boolean): string | undefined {
  const components = name.split('/');
  if (components.some((c) => c === '')) return 'it has an empty path segment ("//", or "/" at an end)';
  const [first, ...rest] = components;
  const isHost = /[.:]/.test(first) || first === 'localhost';
  if (hostRequired && !isHost) return `${shown(first)} is not a registry host such as docker.io or registry.example.org:5000`;
  if (isHost) {
    const colon = first.indexOf(':');
    const [host, port] = colon < 0 ? [first, undefined] : [first.slice(0, colon), first.slice(colon + 1)];
    if (port !== undefined && (!/^[1-9]\d{0,4}$/.test(port) || Number(port) > 65535)) {
      return `the registry port ${shown(port)} is not a port 1-65535`;
    }
    if (!host.split('.').every((label) => HOST_LABEL.test(label))) {
      return `the registry host ${shown(host)} is not a host name: lowercase letters, digits and "-" in labels separated by "."`;
    }
  }
  for (const component of isHost ? rest : components) {
    if (PATH_COMPONENT.test(component)) continue;
    if (PATH_COMPONENT.test(component.toLowerCase()))
      return `the path segment ${shown(component)} has capitals: repositories are lowercase`;
    return `the path segment ${shown(component)} is not valid: lowercase letters and digits, joined by ".", "_", "__" or "-"`;
  }
  return undefined;
}

/** name[:tag][@digest] → parts, or why the reference cannot be split (undefined parts are absent). */
function splitImageReference(value: string): ImageReference | string {
  const at = value.indexOf('@');
  const digest = at < 0 ? undefined : value.slice(at + 1);
  const nameAndTag = at < 0 ? value : value.slice(0, at);
  if (digest !== undefined && !DIGEST.test(digest)) return 'the digest is not sha256:<64 hex digits>';
  const colon = nameAndTag.lastIndexOf(':');
  const hasTag = colon > nameAndTag.lastIndexOf('/');
  const repository = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
  const tag = hasTag ? nameAndTag.slice(colon + 1) : undefined;
  if (tag !== undefined && !IMAGE_TAG.test(tag)) return `the tag ${shown(tag)} is not valid: letters, digits, "_", "." and "-"`;
  const issue = imageNameIssue(repository, false);
  return issue ?? { repository, tag, digest };
}

const IMAGE_EXAMPLE = 'expected an image reference such as docker.io/library/postgres:18.1-alpine';

function imageIssue(value: string): string | undefined {
  const parts = splitImageReference(value);
  if (typeof parts === 'string') return `${IMAGE_EXAMPLE}: ${parts}`;
  const { tag, digest } = parts;
  if (!tag && !digest) return 'the image has no tag: pin an exact version such as :18.1-alpine';
  return tag ? tagIssue(tag) : undefined;
}

/** Where Plane's images are pulled from: a registry host and path, such as docker.io/makeplane. */
export const imageRegistry = checked(z.string(), (value) => {
  const issue = imageNameIssue(value, true);
  return issue ? `expected a registry path such as docker.io/makeplane: ${issue}` : undefined;
});

export const image = checked(z.string(), imageIssue);

/**
 * Plane's tag: one of the releases this project supports (plane-releases.ts), each checked against its code.
 * It also names Job versions ("plane-migrator-<tag>-<digest>"): test/plane-releases.test.ts synthesizes each.
 */
export const planeTag = checked(z.string(), (value) => {
  if (value.includes('@')) {
    return "a digest pins one image and Plane has five: keep the tag (e.g. v1.2.2) here and put each image's digest under images.plane.digests";
  }
  if (SUPPORTED_PLANE_TAGS.includes(value)) return undefined;
  return (
    `${shown(value)} is not a Plane release this project supports: use ${SUPPORTED_PLANE_TAGS.join(', ')} ` +
    '(a new release is added to lib/config/plane-releases.ts once checked against its code and npm run test:plane)'
  );
});

export const digest = z.string().regex(DIGEST, 'expected an image digest such as sha256:<64 hex digits>');

export const resourceAmounts = z.strictObject({ cpu, memory: bytes });
export const resources = z.strictObject({ requests: resourceAmounts, limits: resourceAmounts }).superRefine((value, ctx) => {
  // Refinements run even when a field failed its own check: compare only well-formed quantities.
  const cpus = [value.requests.cpu, value.limits.cpu];
  const memories = [value.requests.memory, value.limits.memory];
  if (cpus.every(isCpuQuantity) && cpuToMillicores(value.requests.cpu) > cpuToMillicores(value.limits.cpu)) {
    ctx.addIssue({
      code: 'custom',
      path: ['requests', 'cpu'],
      message: `request ${value.requests.cpu} is above the limit ${value.limits.cpu}`,
    });
  }
  if (memories.every(isByteQuantity) && quantityToBytes(value.requests.memory) > quantityToBytes(value.limits.memory)) {
    ctx.addIssue({
      code: 'custom',
      path: ['requests', 'memory'],
      message: `request ${value.requests.memory} is above the limit ${value.limits.memory}`,
    });
  }
});

export type ResourceSpec = z.infer<typeof resources>;

/** Splits a validated image reference into repository, tag and digest. */
export function parseImageReference(value: string): ImageReference {
  const parts = splitImageReference(value);
  if (typeof parts === 'string') throw new Error(`not an image reference: ${value}`);
  return parts;
}
