import { k8s } from 'cdk8s-plus-28';
import { ResourceSpec } from './config/site-config';

/** Site-config resources → container resources (requests and limits on every container). */
export function toResourceRequirements(spec: ResourceSpec): k8s.ResourceRequirements {
  return {
    requests: { cpu: k8s.Quantity.fromString(spec.requests.cpu), memory: k8s.Quantity.fromString(spec.requests.memory) },
    limits: { cpu: k8s.Quantity.fromString(spec.limits.cpu), memory: k8s.Quantity.fromString(spec.limits.memory) },
  };
}
