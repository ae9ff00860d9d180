/**
 * `plane-k3s backup` and `restore`: Jobs made from the stack's own CronJobs (`plane-backup`, the drill
 * `plane-backup-drill`, and the suspended `plane-backup-restore` template), waited for, their log's
 * summary shown.
 */
import { V1Job } from '@kubernetes/client-node';
import { RESTORE_ALLOW_VERSION_ENV, RESTORE_BACKUP_ENV } from '../lib/data/backups';
import { OpsContext } from './context';
import { jobFromCronJob, jobLog, runName, waitForJob } from './jobs';
import { CheckResult, fail, pass, Step } from './report';
import { mergePatch } from './secrets';

export interface JobOptions {
  readonly timeoutMs: number;
}

/**
 * A Job from a CronJob template, waited for; its log lines starting with `prefix` are the evidence.
 * `adjust` changes the Job before it is made (the rehearsal's target image).
 */
export async function runFromCronJob(
  ctx: OpsContext,
  role: string,
  what: string,
  env: Record<string, string>,
  options: JobOptions,
  progress: (m: string) => void,
  prefix: string,
  adjust: (job: V1Job) => void = () => undefined,
): Promise<{ job: string; done: boolean; reason?: string; lines: string[]; tail: string[] }> {
  const ns = ctx.stack.namespace;
  const template = ctx.stack.maybeWorkload('CronJob', role);
  if (!template) throw new Error(`the site has no ${role} CronJob`);
  const cron = await ctx.kube.maybe(() => ctx.kube.batch.readNamespacedCronJob({ name: template.name, namespace: ns }));
  if (!cron) throw new Error(`CronJob ${ns}/${template.name} does not exist: kubectl apply -f dist`);
  const job = runName(template.name, what);
  const body = jobFromCronJob(cron, job, env);
  adjust(body);
  await ctx.kube.batch.createNamespacedJob({ namespace: ns, body });
  const outcome = await waitForJob(ctx.kube, ns, job, options.timeoutMs, progress);
  const log = (await jobLog(ctx.kube, ns, job)).map((l) => ctx.redactor.apply(l));
  const lines = log.filter((l) => l.startsWith(prefix));
  // The last lines of any kind: a failed step's own error (a traceback) says more than its summary.
  return { job, done: outcome.done, reason: outcome.done ? undefined : outcome.reason, lines, tail: log.slice(-12) };
}

/** A run now of the backup or the drill CronJob, waited for; its log's summary lines (`backup:`, `drill:`) are the evidence. */
function runNowStep(ctx: OpsContext, options: JobOptions, role: 'backup' | 'drill', id: string, title: string): Step {
  const ns = ctx.stack.namespace;
  return {
    id,
    title,
    run: async (progress) => {
      const run = await runFromCronJob(ctx, role, 'now', {}, options, progress, `${role}:`);
      const evidence = run.lines.join('; ');
      if (!run.done)
        return [
          fail(
            id,
            `job/${run.job}: ${run.reason}${evidence ? `; ${evidence}` : ''}`,
            `kubectl -n ${ns} logs job/${run.job} --all-containers`,
          ),
        ];
      return [pass(id, `job/${run.job} complete${evidence ? `: ${evidence}` : ''}`)];
    },
  };
}

export function backupNowSteps(ctx: OpsContext, options: JobOptions): Step[] {
  return [runNowStep(ctx, options, 'backup', 'backup/now', 'back up now (a Job from CronJob plane-backup)')];
}

export function backupDrillSteps(ctx: OpsContext, options: JobOptions): Step[] {
  return [runNowStep(ctx, options, 'drill', 'backup/drill', 'restore drill now (a Job from CronJob plane-backup-drill)')];
}

/** One backup as `backup list` shows it. */
export interface BackupEntry {
  readonly id: string;
  readonly time: string;
  readonly bytes?: number;
  readonly planeVersion?: string;
  readonly migration?: string;
  /** When a drill last restored it, if one did. */
  readonly drilled?: string;
}

/**
 * The backups, from the lines the restore template prints in list mode: restic's JSON list of snapshots
 * (times, tags, sizes: no data) and the drills recorded on the volume ("drilled <id>\t<time>").
 */
export function parseBackupList(lines: readonly string[]): BackupEntry[] {
  const drilled = new Map<string, string>();
  let snapshots: { short_id: string; time: string; tags?: string[]; summary?: { total_bytes_processed?: number } }[] = [];
  for (const line of lines) {
    const body = line.replace(/^restore:\s*/, '');
    if (body.startsWith('snapshots ')) snapshots = JSON.parse(body.slice('snapshots '.length)) ?? [];
    const drill = /^drilled ([0-9a-f]+)\s+(\S+)$/.exec(body);
    if (drill) drilled.set(drill[1], drill[2]);
  }
  const tag = (tags: string[] | undefined, name: string) => tags?.find((t) => t.startsWith(`${name}=`))?.slice(name.length + 1);
  return snapshots
    .map((s) => ({
      id: s.short_id,
      time: new Date(s.time).toISOString().replace(/\.\d+Z$/, 'Z'),
      bytes: s.summary?.total_bytes_processed,
      planeVersion: tag(s.tags, 'plane-version'),
      migration: tag(s.tags, 'migration'),
      drilled: drilled.get(s.short_id),
    }))
    .sort((a, b) => b.time.localeCompare(a.time));
}

/** The backups in the encrypted repository: the restore template in list mode, which changes nothing. */
export function backupListSteps(ctx: OpsContext, options: JobOptions): Step[] {
  const ns = ctx.stack.namespace;
  return [
    {
      id: 'backup/list',
      title: `list the backups (restore template, ${RESTORE_BACKUP_ENV}=list)`,
      run: async (progress) => {
        const run = await runFromCronJob(ctx, 'restore', 'list', { [RESTORE_BACKUP_ENV]: 'list' }, options, progress, 'restore:');
        await ctx.kube.batch.deleteNamespacedJob({ name: run.job, namespace: ns, propagationPolicy: 'Background' }).catch(() => undefined);
        if (!run.done)
          return [fail('backup/list', `job/${run.job}: ${run.reason}`, `kubectl -n ${ns} logs job/${run.job} --all-containers`)];
        const backups = parseBackupList(run.lines);
        return backups.length
          ? backups.map((b) =>
              pass(
                `backup/${b.id}`,
                `${b.time}, ${b.bytes ?? '?'} bytes, Plane ${b.planeVersion ?? '?'}, migration ${b.migration ?? '?'}, ` +
                  (b.drilled ? `drill passed ${b.drilled}` : 'not drilled'),
              ),
            )
          : [pass('backup/list', 'no backup in the repository yet (plane-k3s backup now)')];
      },
    },
  ];
}

export interface RestoreOptions extends JobOptions {
  /** A snapshot id (plane-k3s backup list), or `latest`. */
  readonly backup: string;
  /** Restore a backup of this other Plane version on purpose. @default refused */
  readonly allowVersion?: string;
}

/**
 * Stops the Deployments that hold database connections (the restore refuses while any is connected),
 * restores the database in one transaction (checked against what the backup recorded) and then the
 * uploads, and gives the Deployments back the replicas of the manifests, failed or not (a failed
 * database restore leaves the database as it was).
 */
export function restoreSteps(ctx: OpsContext, options: RestoreOptions): Step[] {
  const ns = ctx.stack.namespace;
  const password = ctx.stack.secretRefOf('api', 'POSTGRES_PASSWORD');
  const clients = ctx.stack.readersOf(password.secretName, password.key).filter((w) => w.kind === 'Deployment');
  const scale = async (name: string, replicas: number) => {
    await ctx.kube.apps.patchNamespacedDeploymentScale({ name, namespace: ns, body: { spec: { replicas } } }, mergePatch());
  };
  let restored: CheckResult | undefined;
  return [
    {
      id: 'restore/stop',
      title: `stop Plane's database clients (${clients.map((c) => c.name).join(', ')})`,
      run: async (progress) => {
        for (const client of clients) await scale(client.name, 0);
        const deadline = Date.now() + options.timeoutMs;
        for (;;) {
          const pods = (await Promise.all(clients.map((c) => ctx.kube.podsOf(ns, c.peer.podSelector)))).flat();
          if (pods.length === 0) break;
          if (Date.now() > deadline) throw new Error(`${pods.length} pods still running after ${options.timeoutMs / 1000} s`);
          progress(`${pods.length} pods stopping`);
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
        return [pass('restore/stop', `${clients.length} Deployments scaled to 0, their pods gone`)];
      },
    },
    {
      id: 'restore/run',
      title: `restore ${options.backup}: database, then uploads`,
      run: async (progress) => {
        const env = {
          [RESTORE_BACKUP_ENV]: options.backup,
          ...(options.allowVersion ? { [RESTORE_ALLOW_VERSION_ENV]: options.allowVersion } : {}),
        };
        const run = await runFromCronJob(ctx, 'restore', 'run', env, options, progress, 'restore:');
        restored = run.done
          ? pass('restore/run', `job/${run.job} complete: ${run.lines.join('; ') || 'restored'}`)
          : fail(
              'restore/run',
              `job/${run.job}: ${run.reason}${run.lines.length ? `; ${run.lines.join('; ')}` : ''}`,
              `kubectl -n ${ns} logs job/${run.job} --all-containers; a refused or failed database restore changed nothing (one transaction)`,
            );
        return [restored];
      },
    },
    {
      id: 'restore/start',
      title: "start Plane again (the manifests' replicas)",
      run: async () => {
        for (const client of clients) await scale(client.name, client.replicas);
        return [pass('restore/start', `${clients.length} Deployments back to their replicas; check with plane-k3s verify`)];
      },
    },
  ];
}
