import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { serviceHost, ServiceEndpoint } from '../connections';
import { WorkloadLabels } from '../labels';

export interface ExternalServiceProps {
  readonly namespace: string;
  /** Service name, e.g. "plane-postgres": clients use the same host name as for the in-cluster service. */
  readonly name: string;
  readonly labels: WorkloadLabels;
  /** IPv4 address of the external server (on k3s, a server on the VPS itself: one of the node's addresses). */
  readonly address: string;
  readonly port: number;
  /** Name of the port, e.g. "postgres". */
  readonly portName: string;
}

/**
 * A service that runs outside the cluster (a shared PostgreSQL or Redis on the host), behind a Service
 * without selector and its EndpointSlice: clients keep one stable name, and NetworkPolicies allow
 * exactly that address and port.
 */
export class ExternalService extends Construct {
  readonly endpoint: ServiceEndpoint;

  constructor(scope: Construct, id: string, props: ExternalServiceProps) {
    super(scope, id);
    const metadata = { namespace: props.namespace, labels: { ...props.labels.all } };
    const service = new k8s.KubeService(this, 'service', {
      metadata: { ...metadata, name: props.name },
      spec: {
        type: 'ClusterIP',
        ports: [{ name: props.portName, port: props.port, targetPort: k8s.IntOrString.fromNumber(props.port), protocol: 'TCP' }],
      },
    });
    new k8s.KubeEndpointSlice(this, 'endpoints', {
      metadata: { ...metadata, name: props.name, labels: { ...metadata.labels, 'kubernetes.io/service-name': service.name } },
      addressType: 'IPv4',
      // Written as the API server stores it (conditions filled in): `kubectl apply` replaces the list as
      // a whole, and one that differs from the stored one would make every apply report "configured".
      endpoints: [{ addresses: [props.address], conditions: { ready: true } }],
      ports: [{ name: props.portName, port: props.port, protocol: 'TCP' }],
    });
    this.endpoint = {
      host: serviceHost(service.name, props.namespace),
      port: props.port,
      peer: { name: props.name, cidrs: [`${props.address}/32`] },
    };
  }
}
