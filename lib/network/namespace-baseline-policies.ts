import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { NAMESPACE_NAME_LABEL } from './peers';

export interface NamespaceBaselinePoliciesProps {
  readonly namespace: string;
  /** The cluster DNS pods every pod may query on port 53 (k3s: CoreDNS, k8s-app=kube-dns in kube-system). */
  readonly dns: { readonly namespace: string; readonly podLabels: Readonly<Record<string, string>> };
  readonly labels: Readonly<Record<string, string>>;
}

/** Default deny of ingress and egress for every pod of a namespace, then DNS for all of them. */
export class NamespaceBaselinePolicies extends Construct {
  constructor(scope: Construct, id: string, props: NamespaceBaselinePoliciesProps) {
    super(scope, id);
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: { ...props.labels } });
    new k8s.KubeNetworkPolicy(this, 'default-deny', {
      metadata: metadata('default-deny'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    new k8s.KubeNetworkPolicy(this, 'allow-dns', {
      metadata: metadata('allow-dns'),
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: props.dns.namespace } },
                podSelector: { matchLabels: { ...props.dns.podLabels } },
              },
            ],
            ports: [
              { port: k8s.IntOrString.fromNumber(53), protocol: 'UDP' },
              { port: k8s.IntOrString.fromNumber(53), protocol: 'TCP' },
            ],
          },
        ],
      },
    });
  }
}
