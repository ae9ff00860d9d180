/**
 * Split DNS for the VPN-only host: VPN clients resolve it through Headscale's MagicDNS (extra records),
 * in-cluster clients through CoreDNS (k3s' coredns-custom hook). Pure functions of the site.
 */
import { SiteConfig } from '../config/site-config';
import { appHost } from '../site';

/** Where the synth writes the Headscale records, relative to the folder that holds dist/ (never in it). */
export const HEADSCALE_RECORDS_FILE = 'dns/headscale-extra-records.json';

/** Headscale's extra-record format (dns.extra_records_path); Tailscale clients use A and AAAA only. */
export interface DnsRecord {
  readonly name: string;
  readonly type: 'A' | 'AAAA';
  readonly value: string;
}

/** The records VPN clients need: the app host → the VPS's VPN address. */
export function splitDnsRecords(site: SiteConfig): DnsRecord[] {
  return [{ name: appHost(site), type: 'A', value: site.edge.vpnAddress }];
}

/**
 * The JSON file Headscale watches (dns.extra_records_path). Keys are sorted and the output stable:
 * Headscale reloads the file when its checksum changes.
 */
export function headscaleExtraRecords(records: readonly DnsRecord[]): string {
  const sorted = records.map((r) => ({ name: r.name, type: r.type, value: r.value }));
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** Name of k3s' optional CoreDNS ConfigMap (kube-system); its `*.override` keys go into the main server block. */
export const COREDNS_CUSTOM_CONFIGMAP = 'coredns-custom';
export const COREDNS_NAMESPACE = 'kube-system';

/**
 * CoreDNS lines for k3s' main server block (`import /etc/coredns/custom/*.override`): questions for
 * the app host are rewritten to the Caddy Service's in-cluster name, which the kubernetes plugin of the
 * same block answers with its ClusterIP, under the name that was asked (`answer auto`; libc resolvers
 * drop answers for another name). So pods reach Caddy whatever the exposure, without its ClusterIP
 * being known at synth time, and from the pod CIDR, which vpn_only allows. test/edge/coredns.test.ts
 * runs it in CoreDNS 1.10.1, older than what current k3s ships.
 */
export function coreDnsOverride(host: string, serviceFqdn: string): string {
  return [
    `# plane-k3s: in-cluster clients reach ${host} through Caddy's Service.`,
    `rewrite name exact ${host} ${serviceFqdn} answer auto`,
    '',
  ].join('\n');
}
