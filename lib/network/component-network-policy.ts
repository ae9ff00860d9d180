import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { Flow, PodPeer, samePeer, toPolicyPeers, toPolicyPorts } from './peers';

export interface ComponentNetworkPolicyProps {
  /** The component whose pods the policy selects. */
  readonly component: PodPeer;
  /** Every allowed flow of the stack; the policy keeps those that start or end at `component`. */
  readonly flows: readonly Flow[];
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The component needs no connection at all (e.g. the restore drill, whose server is in its own pod):
   * the policy allows nothing but the baseline's DNS. @default false: a component no flow touches is an error
   */
  readonly isolated?: boolean;
}

/**
 * One component's NetworkPolicy: who may connect to it (ingress) and where it may connect (egress),
 * each rule one flow. Together with the namespace's default deny it is all the component is allowed.
 */
export class ComponentNetworkPolicy extends Construct {
  constructor(scope: Construct, id: string, props: ComponentNetworkPolicyProps) {
    super(scope, id);
    const self = props.component;
    const ingress = props.flows.filter((f) => samePeer(f.to, self));
    const egress = props.flows.filter((f) => samePeer(f.from, self));
    if (props.isolated && ingress.length + egress.length > 0) {
      throw new Error(`${self.name} is isolated, yet flows start or end at it`);
    }
    if (!props.isolated && ingress.length === 0 && egress.length === 0) {
      throw new Error(`no flow starts or ends at ${self.name}: its pods would only get DNS`);
    }
    new k8s.KubeNetworkPolicy(this, 'policy', {
      metadata: { name: self.name, namespace: self.namespace, labels: { ...props.labels } },
      spec: {
        podSelector: { matchLabels: { ...self.podSelector } },
        policyTypes: ['Ingress', 'Egress'],
        // An empty list is omitted, not written as []: the API server drops it, and `kubectl apply`
        // would then report the policy "configured" on every run.
        ingress: nonEmpty(ingress.map((f) => ({ from: toPolicyPeers(f.from, self.namespace), ports: toPolicyPorts(f.ports) }))),
        egress: nonEmpty(egress.map((f) => ({ to: toPolicyPeers(f.to, self.namespace), ports: toPolicyPorts(f.ports) }))),
      },
    });
  }
}

function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}
