/**
 * `plane-k3s upgrade --rehearse <tag>`: a fresh backup, then a Job from the suspended rehearsal template
 * (`plane-backup-rehearsal`) that restores it into a scratch server in its own pod and runs the target
 * release's migrations against that copy, with the target's backend image. The Job is deleted after its
 * log is read, and the copy with it. Nothing in production changes: the Job reaches nothing (its
 * NetworkPolicy) and holds no credential but the backup repository's key.
 */
import { V1Job } from '@kubernetes/client-node';
import { REHEARSAL_MIGRATE_CONTAINER, REHEARSAL_TARGET_ENV, RESTORE_BACKUP_ENV } from '../lib/data/backups';
import { compareTags, RELEASE_TAG, SUPPORTED_PLANE_TAGS } from '../lib/config/plane-releases';
import { exposureOf, fixedBy, loadAdvisories } from '../lib/plane/advisories';
import { PLANE_IMAGES } from '../lib/plane/images';
import { JobOptions, runFromCronJob } from './backups';
import { OpsContext } from './context';
import { CheckResult, fail, pass, Step } from './report';

export interface RehearsalOptions extends JobOptions {
  /** The release to rehearse, e.g. v1.3.1. */
  readonly target: string;
  /** The target's backend image. @default `<images.plane.registry>/plane-backend:<target>` */
  readonly image?: string;
}

/** The target's backend image: the site's registry, the target's tag (or the image given). */
export function targetImage(ctx: Pick<OpsContext, 'stack'>, options: Pick<RehearsalOptions, 'target' | 'image'>): string {
  return options.image ?? `${ctx.stack.site.images.plane.registry}/${PLANE_IMAGES.backend}:${options.target}`;
}

/** Why a target cannot be rehearsed from the running version, or undefined. */
export function refuseTarget(running: string, target: string): string | undefined {
  if (!RELEASE_TAG.test(target)) return `expected a Plane release such as v1.3.1, got "${target}"`;
  if (compareTags(target, running) <= 0)
    return `the site runs Plane ${running}: a rehearsal migrates forward, to a later release (Plane's migrations do not go back)`;
  return undefined;
}

/** The snapshot a backup's log says it made. */
export function snapshotOf(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const made = /^backup: snapshot ([0-9a-f]{8,64}),/.exec(line);
    if (made) return made[1];
  }
  return undefined;
}

/**
 * What the target fixes of the running version's open advisories (security/plane-advisories.yaml), and
 * whether the project supports it: a rehearsal of any release is allowed, an upgrade only to a supported one.
 */
export function advisoriesFixedBy(running: string, target: string, supported: readonly string[] = SUPPORTED_PLANE_TAGS): string {
  const exposure = exposureOf(loadAdvisories(), running);
  const fixed = fixedBy(exposure.open, target);
  const support = supported.includes(target)
    ? ''
    : `; ${target} is not a release this project supports yet: the synth refuses its tag until it is checked and added (docs/configuration.md "Supported Plane releases")`;
  return `${target} fixes ${fixed.length} of Plane ${running}'s ${exposure.open.length} open advisories${support}`;
}

/** Puts the target's backend image on the rehearsal Job's migration step; every other container keeps its image. */
export function withTargetImage(job: V1Job, image: string): void {
  const migrate = job.spec?.template.spec?.containers.find((c) => c.name === REHEARSAL_MIGRATE_CONTAINER);
  if (!migrate) throw new Error(`the rehearsal template has no ${REHEARSAL_MIGRATE_CONTAINER} container: kubectl apply -f dist`);
  migrate.image = image;
}

/** What a rehearsal Job's run says: its summary lines, or why it failed with its last lines (a traceback). */
export interface RehearsalRun {
  readonly job: string;
  readonly done: boolean;
  readonly reason?: string;
  /** Its `rehearsal:` lines. */
  readonly lines: readonly string[];
  /** Its last lines of any kind. */
  readonly tail: readonly string[];
}

/** The rehearsal's verdict: it passes when the Job completed on the snapshot asked for; its Job is deleted either way. */
export function judgeRehearsal(run: RehearsalRun, snapshot: string, seconds: number, running: string, target: string): CheckResult {
  const evidence = run.lines.join('; ');
  const unpacked = run.lines.some((l) => l.startsWith(`rehearsal: unpacked snapshot ${snapshot} `));
  if (!run.done || !unpacked) {
    const tail = run.tail.filter((l) => !run.lines.includes(l));
    return fail(
      'upgrade/rehearse',
      `job/${run.job}: ${run.done ? `its log does not show snapshot ${snapshot} unpacked` : run.reason}${evidence ? `; ${evidence}` : ''}` +
        `${tail.length ? `; its last lines: ${tail.join(' | ')}` : ''}; the Job and its copy deleted, production unchanged`,
      `do not upgrade before a rehearsal passes: read the lines above and the target's release notes (docs/runbook.md "Upgrade")`,
    );
  }
  return pass(
    'upgrade/rehearse',
    `${evidence}; whole rehearsal ${seconds} s; job/${run.job} deleted, production unchanged. ${advisoriesFixedBy(running, target)}`,
  );
}

export function rehearseSteps(ctx: OpsContext, options: RehearsalOptions): Step[] {
  const ns = ctx.stack.namespace;
  const running = ctx.stack.site.images.plane.tag;
  const image = targetImage(ctx, options);
  let snapshot: string | undefined;
  return [
    {
      id: 'upgrade/backup',
      title: 'back up now (a Job from CronJob plane-backup): the copy the rehearsal migrates',
      run: async (progress) => {
        const run = await runFromCronJob(ctx, 'backup', 'now', {}, options, progress, 'backup:');
        snapshot = run.done ? snapshotOf(run.lines) : undefined;
        if (!snapshot)
          return [
            fail(
              'upgrade/backup',
              `job/${run.job}: ${run.done ? 'no snapshot in its log' : run.reason}; nothing was rehearsed`,
              `kubectl -n ${ns} logs job/${run.job} --all-containers`,
            ),
          ];
        return [pass('upgrade/backup', `job/${run.job} complete: snapshot ${snapshot}`)];
      },
    },
    {
      id: 'upgrade/rehearse',
      title: `rehearse the migrations of Plane ${options.target} on a copy of that backup (${image})`,
      run: async (progress) => {
        if (!snapshot) return [fail('upgrade/rehearse', 'not run: no fresh backup to rehearse on', 'see upgrade/backup')];
        const started = Date.now();
        const env = { [RESTORE_BACKUP_ENV]: snapshot, [REHEARSAL_TARGET_ENV]: options.target };
        const run = await runFromCronJob(ctx, 'rehearsal', 'rehearse', env, options, progress, 'rehearsal:', (job) =>
          withTargetImage(job, image),
        );
        const seconds = Math.round((Date.now() - started) / 1000);
        // The copy lives in the pod's volumes: deleting the Job drops it, whatever the outcome.
        await ctx.kube.batch.deleteNamespacedJob({ name: run.job, namespace: ns, propagationPolicy: 'Foreground' }).catch(() => undefined);
        return [judgeRehearsal(run, snapshot, seconds, running, options.target)];
      },
    },
  ];
}
