/**
 * plane-k3s: the operator's commands for what kubectl cannot tell or do alone. Every command reads the
 * site file (the same one `npm run synth` uses) for what the cluster should hold, and the kube context
 * for where it is. Output: a report on stdout (`--json` for machines), progress on stderr; exit code 0
 * when everything passed, 1 when something failed, 2 when the command could not run.
 */
import * as fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { SiteConfigError } from '../lib/config/load-site-config';
import { shown } from '../lib/config/primitives';
import { RELEASE_TAG } from '../lib/config/plane-releases';
import { SITE_CONFIG_ENV } from '../lib/synth';
import { parseSince, renderAudit } from './audit';
import { AuditUnavailable, readAudit, siteCallers } from './audit-log';
import { backupDrillSteps, backupListSteps, backupNowSteps, restoreSteps } from './backups';
import { OpsContext } from './context';
import { describeKubeError, Kube } from './kube';
import { emit, makeReport, runSteps, Step } from './report';
import { connectionSteps, envVariable, listSteps, loadSteps, planLoad, planRotation, rotateSteps } from './secrets';
import { smokeSteps } from './smoke';
import { Stack } from './stack';
import { refuseTarget, rehearseSteps } from './upgrade';
import { verifySteps } from './verify';

/** Thrown for a command that could not run (bad input, no cluster): one line, exit code 2. */
class UsageError extends Error {}

interface GlobalOptions {
  readonly site?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly json: boolean;
}

/** The cluster and the site; `check` judges the command's input against the site before the kubeconfig is read. */
function contextFrom(command: Command, check?: (stack: Stack) => void): OpsContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  const stack = Stack.load(options.site || process.env[SITE_CONFIG_ENV] || undefined);
  check?.(stack);
  let kube: Kube;
  try {
    kube = new Kube({ kubeconfig: options.kubeconfig, context: options.context });
  } catch (error) {
    throw new UsageError(`kubeconfig: ${error instanceof Error ? error.message : String(error)}`);
  }
  return new OpsContext(kube, stack, options.json);
}

async function run(name: string, ctx: OpsContext, steps: Step[]): Promise<number> {
  // Checked once, after the command's input: without it every step fails alike (one line each, exit 1).
  const unreachable = await ctx.kube.unreachable();
  if (unreachable) throw new UsageError(unreachable);
  const results = await runSteps(steps, { json: ctx.json }, ctx.redactor);
  return emit(makeReport(name, ctx.kube.contextName, results, ctx.redactor), { json: ctx.json });
}

const minutes = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--timeout: expected minutes > 0, got "${value}"`);
  return n * 60_000;
};

/** --timeout in minutes, its default shown in minutes too (the value the commands get is in ms). */
const timeoutOption = (description: string, defaultMinutes: number) =>
  new Option('--timeout <minutes>', description).argParser(minutes).default(defaultMinutes * 60_000, `${defaultMinutes} minutes`);

const positive = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a number > 0, got "${value}"`);
  return n;
};

export function program(): Command {
  const cli = new Command('plane-k3s')
    .description('Check and operate the Plane stack of a site: verify, smoke, secrets, audit, backup, restore, upgrade rehearsal')
    .option('--site <file>', `the site file (default: $${SITE_CONFIG_ENV} or site/javisi.yaml)`)
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kube context (default: the current one)')
    .option('--json', 'the report as JSON on stdout (no progress)', false)
    .showHelpAfterError()
    .exitOverride();
  let exitCode = 0;
  const action =
    (fn: (command: Command, ...args: any[]) => Promise<number>) =>
    async (...args: any[]) => {
      const command = args[args.length - 1] as Command;
      exitCode = await fn(command, ...args.slice(0, -1));
    };

  cli
    .command('verify')
    .description(
      'the Definition of Done: workloads, Jobs, Secrets, api env, health (api, edge), members, tokens, sign-up, database, logs, backup',
    )
    .option('--backup-max-age <hours>', 'oldest acceptable successful backup', positive('--backup-max-age'), 26)
    .option('--log-lines <n>', 'log lines read per api and worker pod', positive('--log-lines'), 50)
    .addOption(new Option('--from-vpn', 'also check from this machine, on the VPN: 200 and the split-DNS answer').conflicts('fromOutside'))
    .option('--from-outside', 'also check from this machine, outside the VPN: 403')
    .action(
      action(async (command, options) => {
        const ctx = contextFrom(command);
        return run(
          'verify',
          ctx,
          verifySteps(ctx, {
            backupMaxAgeHours: options.backupMaxAge,
            logLines: options.logLines,
            fromVpn: !!options.fromVpn,
            fromOutside: !!options.fromOutside,
          }),
        );
      }),
    );

  cli
    .command('smoke')
    .description("the functional test: project VPAI, a work item assigned to builder, read back with builder's token")
    .option('--project <identifier>', 'project identifier (created if absent)', 'VPAI')
    .option('--assignee <agent>', 'agent id the work item is assigned to', 'builder')
    .option('--keep', 'keep what this run created', false)
    .action(
      action(async (command, options) => {
        const ctx = contextFrom(command);
        return run('smoke', ctx, smokeSteps(ctx, { project: options.project, assignee: options.assignee, keep: options.keep }));
      }),
    );

  const secrets = cli.command('secrets').description("the stack's Secrets: list, load, rotate, connection (never a value on screen)");
  secrets
    .command('list')
    .description('which Secrets exist, with their keys (never their values)')
    .action(
      action(async (command) => {
        const ctx = contextFrom(command);
        return run('secrets list', ctx, listSteps(ctx));
      }),
    );
  secrets
    .command('load')
    .description('create Secrets from a vault-style env file (- for stdin) before the first apply; existing Secrets are kept')
    .argument('<file>', 'KEY=value lines, KEY as `plane-k3s secrets variables` prints them')
    .action(
      action(async (command, file: string) => {
        const ctx = contextFrom(command);
        const content = file === '-' ? fs.readFileSync(0, 'utf8') : readFile(file);
        let plan;
        try {
          plan = planLoad(ctx.stack, content, file === '-' ? 'stdin' : file);
        } catch (error) {
          throw new UsageError(error instanceof Error ? error.message : String(error));
        }
        return run('secrets load', ctx, loadSteps(ctx, plan));
      }),
    );
  secrets
    .command('variables')
    .description('the variable names `secrets load` accepts, and the format of each')
    .action(
      action(async (command) => {
        const stack = Stack.load(command.optsWithGlobals<GlobalOptions>().site || process.env[SITE_CONFIG_ENV] || undefined);
        for (const secret of stack.secrets) {
          for (const [key, making] of Object.entries(secret.keys)) {
            if ('generate' in making)
              process.stdout.write(`${envVariable(secret.name, key)}\t${secret.name} ${key} (${making.generate})\n`);
          }
        }
        return 0;
      }),
    );
  secrets
    .command('rotate')
    .description('give one key a new value and apply it (restart or provisioning); the runbook says what it costs')
    .argument('<secret>', 'e.g. plane-agent-builder, plane-app')
    .option('--key <key>', 'which key (default: the token, or the only generated key)')
    .option('--yes', 'do it (without: say what it would do)', false)
    .option('--accept-settings-loss', 'needed for plane-app secret-key (Django SECRET_KEY)', false)
    .option('--revoke-old', 'an API token: the old one stops at once (a leaked token), not after users.tokens.overlapHours', false)
    .addOption(timeoutOption('wait for provisioning at most', 15))
    .action(
      action(async (command, secret: string, options) => {
        const ctx = contextFrom(command);
        const rotateOptions = {
          secret,
          key: options.key,
          acceptSettingsLoss: options.acceptSettingsLoss,
          revokeOld: options.revokeOld,
          timeoutMs: options.timeout,
        };
        let rotation;
        try {
          rotation = planRotation(ctx.stack, rotateOptions);
        } catch (error) {
          throw new UsageError(error instanceof Error ? error.message : String(error));
        }
        if (!options.yes) {
          const then = [
            ...rotation.rerun.map((job) => `the ${job.component} Job runs again`),
            rotation.restart.length ? `restart ${rotation.restart.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join(', then ');
          throw new UsageError(
            `would replace ${secret} ${rotation.key}${then ? `, then ${then}` : ''}; ${rotation.consequence}. Add --yes to do it`,
          );
        }
        return run('secrets rotate', ctx, rotateSteps(ctx, rotateOptions, rotation));
      }),
    );
  secrets
    .command('connection')
    .description('write the connection (PLANE_API_KEY, PLANE_BASE_URL, PLANE_WORKSPACE_SLUG) of admin or an agent to a 0600 file')
    .argument('<who>', 'admin or an agent id, e.g. builder')
    .requiredOption('-o, --output <file>', 'the file to write (mode 0600)')
    .option('--force', 'replace the file if it exists', false)
    .action(
      action(async (command, who: string, options) => {
        const ctx = contextFrom(command);
        let steps;
        try {
          steps = connectionSteps(ctx, { who, output: options.output, force: options.force });
        } catch (error) {
          throw new UsageError(error instanceof Error ? error.message : String(error));
        }
        return run('secrets connection', ctx, steps);
      }),
    );

  cli
    .command('audit')
    .description(
      "the trail of the calls through the edge (Caddy's access log), per agent: calls, methods, endpoints, statuses, latency, 429s",
    )
    .option('--since <when>', 'only calls from then on: a duration back (90m, 24h, 7d, 2w) or a date (2026-05-01, 2026-05-01T08:00:00Z)')
    .option('--agent <id>', "only the calls made with this agent's token (or admin)")
    .action(
      action(async (command, options) => {
        let since: Date | undefined;
        try {
          since = options.since === undefined ? undefined : parseSince(options.since);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        const ctx = contextFrom(command, (stack) => {
          const callers = siteCallers({ stack });
          if (options.agent !== undefined && !callers.includes(options.agent)) {
            throw new UsageError(
              `--agent: ${shown(options.agent)} is neither admin nor an agent of the site (${callers.slice(1).join(', ')})`,
            );
          }
        });
        const unreachable = await ctx.kube.unreachable();
        if (unreachable) throw new UsageError(unreachable);
        let summary;
        try {
          summary = await readAudit(ctx, { since, caller: options.agent }, (message) => {
            if (!ctx.json) process.stderr.write(`audit: ${ctx.redactor.apply(message)}\n`);
          });
        } catch (error) {
          if (error instanceof AuditUnavailable) throw new UsageError(error.message);
          throw error;
        }
        process.stdout.write(ctx.redactor.apply(ctx.json ? `${JSON.stringify(summary, null, 2)}\n` : renderAudit(summary)));
        return 0;
      }),
    );

  const backup = cli.command('backup').description('run a backup or a restore drill now, list the backups');
  backup
    .command('now')
    .description('a Job from CronJob plane-backup, waited for')
    .addOption(timeoutOption('wait at most', 60))
    .action(
      action(async (command, options) => {
        const ctx = contextFrom(command);
        return run('backup now', ctx, backupNowSteps(ctx, { timeoutMs: options.timeout }));
      }),
    );
  backup
    .command('drill')
    .description('a Job from CronJob plane-backup-drill: the latest backup restored into a throw-away server and checked')
    .addOption(timeoutOption('wait at most', 60))
    .action(
      action(async (command, options) => {
        const ctx = contextFrom(command);
        return run('backup drill', ctx, backupDrillSteps(ctx, { timeoutMs: options.timeout }));
      }),
    );
  backup
    .command('list')
    .description('each backup: time, size, Plane version, migration, last drill (the restore template in list mode: changes nothing)')
    .addOption(timeoutOption('wait at most', 10))
    .action(
      action(async (command, options) => {
        const ctx = contextFrom(command);
        return run('backup list', ctx, backupListSteps(ctx, { timeoutMs: options.timeout }));
      }),
    );

  cli
    .command('restore')
    .description("stop Plane's database clients, restore a backup (database in one transaction, then uploads), start them again")
    .argument('<backup>', 'a snapshot id (plane-k3s backup list) or latest')
    .option('--yes', "do it: the database is replaced by the backup's", false)
    .option('--allow-version <version>', 'restore a backup of this other Plane version (run the stack at that version first)')
    .addOption(timeoutOption('wait at most', 60))
    .action(
      action(async (command, backupId: string, options) => {
        if (!/^(latest|[0-9a-f]{8,64})$/.test(backupId))
          throw new UsageError(`backup: expected latest or a snapshot id such as 4f2a9c1e (plane-k3s backup list), got "${backupId}"`);
        if (options.allowVersion !== undefined && !RELEASE_TAG.test(options.allowVersion))
          throw new UsageError(`--allow-version: expected a Plane version such as v1.2.2, got "${options.allowVersion}"`);
        if (!options.yes)
          throw new UsageError(`restore replaces Plane's database with backup ${backupId} and stops Plane meanwhile; add --yes to do it`);
        const ctx = contextFrom(command);
        return run('restore', ctx, restoreSteps(ctx, { backup: backupId, allowVersion: options.allowVersion, timeoutMs: options.timeout }));
      }),
    );

  cli
    .command('upgrade')
    .description("rehearse an upgrade: a fresh backup, migrated by the target release's image in a scratch copy (production unchanged)")
    .requiredOption('--rehearse <tag>', 'the release to rehearse, e.g. v1.3.1 (the upgrade itself: docs/runbook.md "Upgrade")')
    .option('--image <image>', "the target's backend image (default: images.plane.registry/plane-backend:<tag>); pin it with @sha256:…")
    .addOption(timeoutOption('wait for each Job at most', 60))
    .action(
      action(async (command, options) => {
        const ctx = contextFrom(command, (stack) => {
          const refused = refuseTarget(stack.site.images.plane.tag, options.rehearse);
          if (refused) throw new UsageError(`--rehearse: ${refused}`);
          if (options.image !== undefined && !/^[\w.\-/:]+(@sha256:[0-9a-f]{64})?$/.test(options.image))
            throw new UsageError(
              `--image: expected an image reference such as docker.io/makeplane/plane-backend:v1.3.1, got ${shown(options.image)}`,
            );
        });
        return run(
          'upgrade --rehearse',
          ctx,
          rehearseSteps(ctx, { target: options.rehearse, image: options.image, timeoutMs: options.timeout }),
        );
      }),
    );

  return Object.assign(cli, { exitCode: () => exitCode });
}

function readFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const cli = program() as Command & { exitCode: () => number };
  try {
    await cli.parseAsync(argv, { from: 'user' });
    return cli.exitCode();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message =
      error instanceof SiteConfigError
        ? `site file ${error.file}: ${error.problems.join('; ')}`
        : error instanceof UsageError
          ? error.message
          : describeKubeError(error);
    process.stderr.write(`plane-k3s: ${message.split('\n')[0]}\n`);
    return 2;
  }
}
