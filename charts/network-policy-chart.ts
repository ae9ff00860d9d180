import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { ComponentNetworkPolicy } from '../lib/network/component-network-policy';
import { NamespaceBaselinePolicies } from '../lib/network/namespace-baseline-policies';
import { Flow } from '../lib/network/peers';
import { workloadLabels } from '../lib/site';
import { flowsOf } from '../lib/stack/stack-model';
import { Workload } from '../lib/stack/workload';

export interface NetworkPolicyChartProps extends ChartProps {
  readonly site: SiteConfig;
  /** Every workload of the stack, with the calls and admissions it declares. */
  readonly workloads: readonly Workload[];
}

/**
 * The seed's frontend/backend/egress networks as NetworkPolicies: default deny in every namespace of
 * the stack, DNS for all pods, then one policy per workload listing exactly the flows the workloads
 * declare (network/expected-connections.yaml is the independent statement of the same intent, checked
 * against these policies by the tests and by an analyzer).
 */
export class NetworkPolicyChart extends Chart {
  /** Every allowed flow, for documentation and tests. */
  readonly flows: readonly Flow[];

  constructor(scope: Construct, id: string, props: NetworkPolicyChartProps) {
    super(scope, id, props);
    const { site, workloads } = props;
    this.flows = flowsOf(workloads);
    const labels = (name: string) => workloadLabels(site, name, 'network-policy', site.images.plane.tag).all;
    for (const namespace of new Set(workloads.map((w) => w.namespace))) {
      new NamespaceBaselinePolicies(this, `baseline-${namespace}`, {
        namespace,
        dns: site.network.clusterDns,
        labels: labels('network-baseline'),
      });
    }
    for (const workload of workloads) {
      new ComponentNetworkPolicy(this, `${workload.namespace}/${workload.peer.name}`, {
        component: workload.peer,
        flows: this.flows,
        isolated: workload.isolated,
        labels: labels(workload.component),
      });
    }
  }
}
