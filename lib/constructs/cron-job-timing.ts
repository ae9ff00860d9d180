import { k8s } from 'cdk8s-plus-28';

/**
 * How every CronJob of the stack is scheduled: the site's five-field schedule in UTC, never two runs at
 * once, a run missed (the node down) still started within the hour, the last three runs kept to read.
 */
export function cronJobTiming(
  schedule: string,
): Pick<
  k8s.CronJobSpec,
  'schedule' | 'timeZone' | 'concurrencyPolicy' | 'startingDeadlineSeconds' | 'successfulJobsHistoryLimit' | 'failedJobsHistoryLimit'
> {
  return {
    schedule,
    timeZone: 'Etc/UTC',
    concurrencyPolicy: 'Forbid',
    startingDeadlineSeconds: 3600,
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 3,
  };
}
