/**
 * A ValidatingAdmissionPolicy and the binding that makes it deny, as plain objects: the keep-data guard's
 * Job applies its pair outside dist/, the secrets bootstrap's pair is in dist/.
 */
export const ADMISSION_GROUP = 'admissionregistration.k8s.io';
const ADMISSION_API = `${ADMISSION_GROUP}/v1`;

/** One admission object, in the shape of a manifest (and of cdk8s' ApiObject props). */
export interface AdmissionObject {
  readonly apiVersion: string;
  readonly kind: 'ValidatingAdmissionPolicy' | 'ValidatingAdmissionPolicyBinding';
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec: Record<string, unknown>;
}

export interface DenyingAdmissionPolicy {
  readonly policy: AdmissionObject;
  readonly binding: AdmissionObject;
}

/** The policy `name` with `spec` and its binding of the same name, with validation action Deny. */
export function denyingAdmissionPolicy(
  name: string,
  spec: Record<string, unknown>,
  labels?: Readonly<Record<string, string>>,
): DenyingAdmissionPolicy {
  const metadata = { name, ...(labels ? { labels: { ...labels } } : {}) };
  return {
    policy: { apiVersion: ADMISSION_API, kind: 'ValidatingAdmissionPolicy', metadata, spec },
    binding: {
      apiVersion: ADMISSION_API,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  };
}
