/**
 * IP addresses and CIDRs as the site file may write them: canonical notation only (dotted decimal
 * without leading zeros, RFC 5952 IPv6), because the schema, Kubernetes and Caddy each parse other
 * forms their own way ("010.042.0.0" is 8.34.0.0 to one, 10.42.0.0 to another, an error to Caddy).
 */
import * as ipaddr from 'ipaddr.js';

/** One IPv4 octet, 0-255, no leading zero. */
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_CANONICAL = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
/** A prefix length in decimal, no leading zero. */
const PREFIX = /^(0|[1-9]\d{0,2})$/;

export type IpKind = 'ipv4' | 'ipv6';

/** Why `value` is not a canonical IPv4 or IPv6 address, or undefined when it is. */
export function addressIssue(value: string, kinds: readonly IpKind[] = ['ipv4', 'ipv6']): string | undefined {
  if (kinds.includes('ipv4') && IPV4_CANONICAL.test(value)) return undefined;
  if (kinds.includes('ipv6') && ipaddr.IPv6.isValid(value) && !/[%.]/.test(value)) {
    // IPv6 text has one reading; only its spelling varies, so the canonical form is a safe suggestion.
    const canonical = ipaddr.IPv6.parse(value).toRFC5952String();
    return canonical === value ? undefined : `write the IPv6 address in canonical form: ${canonical}`;
  }
  const what = kinds.length === 2 ? 'an IPv4 or IPv6 address' : kinds[0] === 'ipv4' ? 'an IPv4 address' : 'an IPv6 address';
  const example = kinds.includes('ipv4') ? '137.74.114.167' : 'fd7a:115c:a1e0::1';
  // No suggestion for other forms: "010.042.0.0" is 8.34.0.0 to one parser and 10.42.0.0 to another.
  return `expected ${what} in canonical form such as ${example} (dotted decimal, no leading zeros, no octal, hex or short forms)`;
}

/** Why `value` is not a canonical CIDR of the allowed kinds, or undefined when it is. */
export function cidrIssue(value: string, kinds: readonly IpKind[] = ['ipv4', 'ipv6']): string | undefined {
  const example = kinds.includes('ipv4') ? '100.64.0.0/10' : 'fd7a:115c:a1e0::/48';
  const slash = value.indexOf('/');
  if (slash < 0) return `expected a CIDR such as ${example} (address/prefix length)`;
  const [address, prefix] = [value.slice(0, slash), value.slice(slash + 1)];
  const issue = addressIssue(address, kinds);
  if (issue) return `expected a CIDR such as ${example}: ${issue}`;
  const max = address.includes(':') ? 128 : 32;
  if (!PREFIX.test(prefix) || Number(prefix) > max) return `expected a CIDR such as ${example}: the prefix length must be 0-${max}`;
  // The input is canonical from here on, so the suggestion says what the user meant.
  const network = address.includes(':')
    ? ipaddr.IPv6.networkAddressFromCIDR(value).toRFC5952String()
    : ipaddr.IPv4.networkAddressFromCIDR(value).toString();
  if (network !== address) return `host bits are set: did you mean ${network}/${prefix}?`;
  return undefined;
}

/** A validated CIDR as [address, prefix length]. */
export function parseCidr(value: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  return ipaddr.parseCIDR(value);
}

/** Whether CIDR `inner` lies entirely inside CIDR `outer` (same family). */
export function cidrContains(outer: string, inner: string): boolean {
  const [outerAddress, outerPrefix] = parseCidr(outer);
  const [innerAddress, innerPrefix] = parseCidr(inner);
  if (outerAddress.kind() !== innerAddress.kind() || innerPrefix < outerPrefix) return false;
  return (innerAddress as ipaddr.IPv4).match([outerAddress as ipaddr.IPv4, outerPrefix]);
}

/** Whether an address lies inside a CIDR (same family). */
export function addressInCidr(address: string, cidr: string): boolean {
  const [network, prefix] = parseCidr(cidr);
  const parsed = ipaddr.parse(address);
  return parsed.kind() === network.kind() && (parsed as ipaddr.IPv4).match([network as ipaddr.IPv4, prefix]);
}

/**
 * Address space that is never routed on the internet: RFC 1918 private ranges, CGNAT (where Tailscale
 * and Headscale put VPN clients) and IPv6 unique local addresses. A range that lets clients in (VPN,
 * pods) must lie inside one of these, or "VPN-only" would admit part of the internet.
 */
export const NON_PUBLIC_CIDRS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'] as const;

export function isNonPublicCidr(cidr: string): boolean {
  return NON_PUBLIC_CIDRS.some((block) => cidrContains(block, cidr));
}

/**
 * What the worker's internet egress must never reach (webhook SSRF guard): loopback, link-local (the
 * cloud metadata endpoint), the private ranges and CGNAT (the VPN). `blockedCidrs` must cover each.
 */
export const SSRF_GUARD_CIDRS = [
  '127.0.0.0/8',
  '169.254.0.0/16',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
] as const;

/** Whether `cidr` is covered by the union of `blocks` (IPv4 only, by interval arithmetic). */
export function coveredBy(cidr: string, blocks: readonly string[]): boolean {
  const interval = ipv4Interval(cidr);
  const pieces = blocks
    .filter((b) => !b.includes(':'))
    .map(ipv4Interval)
    .sort((a, b) => a[0] - b[0]);
  let next = interval[0];
  for (const [start, end] of pieces) {
    if (start > next) break;
    if (end >= next) next = end + 1;
    if (next > interval[1]) return true;
  }
  return next > interval[1];
}

function ipv4Interval(cidr: string): [number, number] {
  const [address, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  const first = address.toByteArray().reduce((n, byte) => n * 256 + byte, 0);
  return [first, first + 2 ** (32 - prefix) - 1];
}

/**
 * Why an address is not a unicast host address (the address of one machine), or undefined. The API
 * server refuses unspecified, loopback and link-local addresses in an EndpointSlice, and a NetworkPolicy
 * would open egress to them (link-local holds the cloud metadata endpoint). `fix` ends the message.
 */
export function unicastAddressIssue(address: string, fix: string): string | undefined {
  const range = ipaddr.parse(address).range();
  const refused: Record<string, string> = {
    unspecified: 'the unspecified address',
    loopback: 'a loopback address (inside a pod it is the pod itself)',
    linkLocal: 'a link-local address (where the cloud metadata endpoint is)',
    multicast: 'a multicast address',
    broadcast: 'the broadcast address',
    reserved: 'a reserved or documentation address',
  };
  return refused[range] ? `${address} is ${refused[range]}: ${fix}` : undefined;
}

/** Why an address cannot be an external server's (an EndpointSlice address), or undefined. */
export function serverAddressIssue(address: string): string | undefined {
  return unicastAddressIssue(address, "use the server's own address (one of vps.addresses for a server on the VPS)");
}

/**
 * The widest range an egress destination list may hold (backup.offsite.cidrs,
 * data.objectStore.external.cidrs): a /12 is a million addresses. It is the order of the widest blocks
 * S3 providers publish for their service (Cloudflare's 104.16.0.0/13, AWS's S3 ranges are /15 and
 * narrower), and 1/4096 of the IPv4 internet: anything wider is no longer "the service's addresses"
 * but a slice of the internet, opened on 443 to the pods that hold the stack's credentials.
 */
export const EGRESS_MIN_PREFIX = 12;

/**
 * Address space that is never an egress destination elsewhere: "this" network, loopback (the pod
 * itself), link-local (the cloud metadata endpoint 169.254.169.254), multicast, and the reserved
 * 240.0.0.0/4 with the broadcast address.
 */
export const NON_DESTINATION_CIDRS = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'] as const;

/**
 * Why a canonical IPv4 CIDR cannot be an egress destination (an ipBlock the stack opens port 443 to),
 * or undefined. Overlaps with the cluster's and the VPN's ranges are checked by the site schema, which
 * knows them.
 */
export function egressCidrIssue(cidr: string): string | undefined {
  const [, prefix] = parseCidr(cidr);
  if (prefix === 0) return `${cidr} is the whole internet: list the service's own address ranges (at most /${EGRESS_MIN_PREFIX} each)`;
  if (prefix < EGRESS_MIN_PREFIX) {
    return `${cidr} is wider than /${EGRESS_MIN_PREFIX} (${2 ** (32 - EGRESS_MIN_PREFIX)} addresses): list the service's own address ranges, not a slice of the internet`;
  }
  const hit = NON_DESTINATION_CIDRS.find((block) => cidrsOverlap(block, cidr));
  return hit ? `${cidr} overlaps ${hit} (${NON_DESTINATION_WHY[hit]}), which is never a service elsewhere: remove it` : undefined;
}

const NON_DESTINATION_WHY: Record<(typeof NON_DESTINATION_CIDRS)[number], string> = {
  '0.0.0.0/8': '"this" network',
  '127.0.0.0/8': 'loopback',
  '169.254.0.0/16': 'link-local, the cloud metadata endpoint',
  '224.0.0.0/4': 'multicast',
  '240.0.0.0/4': 'reserved and broadcast',
};

/** Whether two CIDRs share an address (false across families). */
export function cidrsOverlap(a: string, b: string): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/**
 * Why an IPv4 address is not a usable host address of `cidr` (its network or broadcast address), or
 * undefined. Prefixes /31 and /32 have no such addresses.
 */
export function hostAddressIssue(address: string, cidr: string): string | undefined {
  const [network, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  if (prefix >= 31) return undefined;
  const broadcast = ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString();
  if (address === network.toString()) return `${address} is the network address of ${cidr}, not a host`;
  if (address === broadcast) return `${address} is the broadcast address of ${cidr}, not a host`;
  return undefined;
}
