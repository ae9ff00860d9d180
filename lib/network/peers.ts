/** The two ends a NetworkPolicy rule can name: pods (by namespace and labels) or address ranges. */
import { k8s } from 'cdk8s-plus-28';

/** Pods of one component, in their namespace. */
export interface PodPeer {
  /** Component name, for policy names and the expected matrix. */
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: Readonly<Record<string, string>>;
}

/** An address range, minus exceptions (the SSRF guard). */
export interface AddressPeer {
  readonly name: string;
  readonly cidrs: readonly string[];
  readonly except?: readonly string[];
}

export type Peer = PodPeer | AddressPeer;

export interface PortSpec {
  readonly port: number;
  /** @default "TCP" */
  readonly protocol?: 'TCP' | 'UDP';
}

/** One allowed connection: `from` may open connections to `to` on `ports`. */
export interface Flow {
  readonly from: Peer;
  readonly to: Peer;
  readonly ports: readonly PortSpec[];
}

export function isPodPeer(peer: Peer): peer is PodPeer {
  return 'podSelector' in peer;
}

/** Identity of a peer: pods by namespace and name, address ranges by name. */
export function peerKey(peer: Peer): string {
  return isPodPeer(peer) ? `${peer.namespace}/${peer.name}` : peer.name;
}

export function samePeer(a: Peer, b: Peer): boolean {
  return peerKey(a) === peerKey(b);
}

/** Standard label every namespace carries (Kubernetes ≥ 1.21): lets a rule name a namespace. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** The peers of a rule, as seen from a policy in `policyNamespace`. */
export function toPolicyPeers(peer: Peer, policyNamespace: string): k8s.NetworkPolicyPeer[] {
  if (!isPodPeer(peer)) {
    return peer.cidrs.map((cidr) => ({ ipBlock: { cidr, except: peer.except?.length ? [...peer.except] : undefined } }));
  }
  return [
    {
      podSelector: { matchLabels: { ...peer.podSelector } },
      // Without a namespaceSelector a podSelector only matches the policy's own namespace.
      namespaceSelector: peer.namespace === policyNamespace ? undefined : { matchLabels: { [NAMESPACE_NAME_LABEL]: peer.namespace } },
    },
  ];
}

export function toPolicyPorts(ports: readonly PortSpec[]): k8s.NetworkPolicyPort[] {
  return ports.map((p) => ({ port: k8s.IntOrString.fromNumber(p.port), protocol: p.protocol ?? 'TCP' }));
}
