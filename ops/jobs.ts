/** Jobs made from the stack's templates (CronJobs, the provisioning Job), waited for, and their logs. */
import * as k8s from '@kubernetes/client-node';
import { Kube } from './kube';

/** `<base>-<what>-<UTC yyyymmddhhmmss>`, cut to the 63 characters a Job name (a label value) allows. */
export function runName(base: string, what: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const suffix = `-${what}-${stamp}`;
  return `${base.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** A Job from a CronJob's template, as `kubectl create job --from=cronjob/…` makes it (owned by the CronJob). */
export function jobFromCronJob(cron: k8s.V1CronJob, name: string, env: Record<string, string> = {}): k8s.V1Job {
  const template = cron.spec?.jobTemplate as k8s.V1JobTemplateSpec;
  const spec = structuredClone(template.spec) as k8s.V1JobSpec;
  setEnv(spec.template, env);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cron.metadata?.namespace,
      labels: { ...template.metadata?.labels },
      annotations: { ...template.metadata?.annotations, 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          name: cron.metadata?.name as string,
          uid: cron.metadata?.uid as string,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec,
  };
}

/** A new run of an existing Job (same pod template, without the labels the Job controller added), with `env` set on its containers. */
export function rerunOfJob(job: k8s.V1Job, name: string, env: Record<string, string> = {}): k8s.V1Job {
  const template = structuredClone(job.spec?.template) as k8s.V1PodTemplateSpec;
  setEnv(template, env);
  const generated = ['controller-uid', 'batch.kubernetes.io/controller-uid', 'job-name', 'batch.kubernetes.io/job-name'];
  for (const label of generated) delete template.metadata?.labels?.[label];
  const labels = { ...job.metadata?.labels };
  for (const label of generated) delete labels[label];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: job.metadata?.namespace, labels },
    spec: {
      backoffLimit: job.spec?.backoffLimit,
      activeDeadlineSeconds: job.spec?.activeDeadlineSeconds,
      ttlSecondsAfterFinished: job.spec?.ttlSecondsAfterFinished,
      template,
    },
  };
}

/** Sets `env` on every container of the template, init containers too, as `kubectl set env` does (replaced if declared, else added). */
function setEnv(template: k8s.V1PodTemplateSpec, env: Record<string, string>): void {
  for (const container of [...(template.spec?.initContainers ?? []), ...(template.spec?.containers ?? [])]) {
    for (const [name, value] of Object.entries(env)) {
      const others = (container.env ?? []).filter((e) => e.name !== name);
      container.env = [...others, { name, value }];
    }
  }
}

export type JobOutcome = { readonly done: true } | { readonly done: false; readonly reason: string };

/** Waits until the Job completes or fails; `progress` hears every few seconds. */
export async function waitForJob(
  kube: Kube,
  namespace: string,
  name: string,
  timeoutMs: number,
  progress: (m: string) => void,
): Promise<JobOutcome> {
  const started = Date.now();
  for (;;) {
    const job = await kube.batch.readNamespacedJob({ name, namespace });
    const conditions = job.status?.conditions ?? [];
    if (conditions.some((c) => (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') && c.status === 'True')) return { done: true };
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) return { done: false, reason: `${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`.trim() };
    const elapsed = Date.now() - started;
    if (elapsed > timeoutMs) return { done: false, reason: `not finished after ${Math.round(timeoutMs / 1000)} s` };
    progress(`job/${name}: ${job.status?.active ? 'running' : 'starting'} (${Math.round(elapsed / 1000)} s)`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** The log of a Job's latest pod, every container (init containers first), or [] when there is none. */
export async function jobLog(kube: Kube, namespace: string, job: string): Promise<string[]> {
  const pods = await kube.core.listNamespacedPod({ namespace, labelSelector: `job-name=${job}` });
  const pod = pods.items.sort((a, b) => String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)))[0];
  if (!pod) return [];
  const lines: string[] = [];
  for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    try {
      const text = await kube.core.readNamespacedPodLog({ name: pod.metadata?.name as string, namespace, container: container.name });
      lines.push(
        ...String(text ?? '')
          .split('\n')
          .filter(Boolean),
      );
    } catch {
      lines.push(`(no log from ${container.name})`);
    }
  }
  return lines;
}
