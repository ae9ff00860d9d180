/**
 * `plane-k3s secrets`: which Secrets exist (names and keys, never values); load the operator's values
 * from a vault-style env file before the first apply; rotate one on purpose; write an agent's
 * connection to a file only its owner can read. No value is ever printed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { PLANE_APP_SECRET } from '../charts/plane-chart';
import { REPOSITORY_KEY } from '../lib/data/backups';
import { ADMIN_SECRET, adminPassword, agentSecretName, API_KEY, BASE_URL_KEY, WORKSPACE_SLUG_KEY } from '../lib/plane/connection-secrets';
import { OVERLAP_OVERRIDE_VARIABLE } from '../lib/plane/provisioning';
import { OpsContext } from './context';
import { parseEnvFile } from './env-file';
import { describeKubeError } from './kube';
import { rerunOfJob, runName, waitForJob } from './jobs';
import { CheckResult, fail, pass, skip, Step } from './report';
import { ExpectedSecret, providedSecrets, Stack } from './stack';
import { Workload } from '../lib/stack/workload';

/** The env-file variable of one key: `PLANE_POSTGRES__PASSWORD` for key `password` of `plane-postgres`. */
export function envVariable(secret: string, key: string): string {
  return `${secret}__${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

/** What a loaded value must look like, per generated format: the bootstrap's own shapes, or a URL-safe password. */
const FORMATS: Record<string, { pattern: RegExp; says: string }> = {
  hex16: { pattern: /^[A-Za-z0-9._~-]{16,}$/, says: 'at least 16 characters of A-Z a-z 0-9 . _ ~ - (it goes into URLs unescaped)' },
  hex24: { pattern: /^[A-Za-z0-9._~-]{16,}$/, says: 'at least 16 characters of A-Z a-z 0-9 . _ ~ - (it goes into URLs unescaped)' },
  hex32: { pattern: /^[0-9a-f]{64}$/, says: '64 lowercase hex characters (32 bytes: Garage and Django keys)' },
  'garage-key-id': { pattern: /^GK[0-9a-f]{24}$/, says: "GK and 24 lowercase hex characters (Garage's key id format)" },
  'plane-api-token': { pattern: /^plane_api_[0-9a-f]{32}$/, says: "plane_api_ and 32 lowercase hex characters (Plane's token format)" },
};

/** A fresh value in a generated format (as the bootstrap Job makes them). */
export function generateValue(format: string): string {
  switch (format) {
    case 'hex16':
      return randomBytes(16).toString('hex');
    case 'hex24':
      return randomBytes(24).toString('hex');
    case 'hex32':
      return randomBytes(32).toString('hex');
    case 'garage-key-id':
      return `GK${randomBytes(12).toString('hex')}`;
    case 'plane-api-token':
      return `plane_api_${randomUUID().replace(/-/g, '')}`;
    default:
      throw new Error(`unknown secret format ${format}`);
  }
}

export function listSteps(ctx: OpsContext): Step[] {
  return [
    {
      id: 'secrets',
      title: 'read Secrets (names and keys only)',
      run: async () => {
        const results: CheckResult[] = [];
        const expected = [
          ...ctx.stack.secrets.map((s) => ({ name: s.name, namespace: s.namespace, keys: Object.keys(s.keys), made: true })),
          ...providedSecrets(ctx.stack).map((s) => ({ ...s, made: false })),
        ];
        for (const secret of expected) {
          const live = await ctx.kube.maybe(() => ctx.kube.core.readNamespacedSecret({ name: secret.name, namespace: secret.namespace }));
          const id = `${secret.namespace}/${secret.name}`;
          if (!live) {
            results.push(
              secret.made
                ? skip(
                    id,
                    'absent: the bootstrap Job makes it at the next kubectl apply -f dist (or load yours first: plane-k3s secrets load)',
                  )
                : fail(
                    id,
                    'absent: yours to create (docs/configuration.md "Secrets")',
                    'see docs/configuration.md "Secrets" and "The edge"',
                  ),
            );
            continue;
          }
          const keys = Object.keys(live.data ?? {}).sort();
          const missing = secret.keys.filter((k) => !keys.includes(k));
          const managed = live.metadata?.labels?.['app.kubernetes.io/managed-by'];
          const created = live.metadata?.creationTimestamp ? new Date(live.metadata.creationTimestamp).toISOString() : '?';
          const detail = `keys ${keys.join(', ') || 'none'}; created ${created}${managed ? `; managed-by ${managed}` : ''}`;
          results.push(
            missing.length ? fail(id, `${detail}; missing ${missing.join(', ')}`, 'docs/runbook.md "Rotating a Secret"') : pass(id, detail),
          );
        }
        return results;
      },
    },
  ];
}

/** Parses (strictly: ./env-file) and checks a whole env file against the stack's Secrets; throws one line naming the problem. */
export function planLoad(stack: Stack, content: string, source: string): Map<ExpectedSecret, Record<string, string>> {
  const variables = parseEnvFile(content, source);
  const known = new Map<string, { secret: ExpectedSecret; key: string }>();
  for (const secret of stack.secrets) {
    for (const key of Object.keys(secret.keys)) known.set(envVariable(secret.name, key), { secret, key });
  }
  const plan = new Map<ExpectedSecret, Record<string, string>>();
  for (const [variable, { value, line }] of variables) {
    // The name passed parseEnvFile's rules (upper case, short): it may be shown; the value never is.
    const at = `${source}: line ${line}`;
    const target = known.get(variable);
    if (!target) {
      const close = [...known.keys()].filter((k) => k.split('__')[0] === variable.split('__')[0]).slice(0, 4);
      throw new Error(
        `${at}: ${variable} is not a key of the stack's Secrets${close.length ? `; that Secret's are ${close.join(', ')}` : ' (plane-k3s secrets variables lists them)'}`,
      );
    }
    const making = target.secret.keys[target.key];
    if ('value' in making) throw new Error(`${at}: ${variable} is written from the site file, not loaded; remove it`);
    const format = FORMATS[making.generate];
    if (!format?.pattern.test(value)) throw new Error(`${at}: ${variable} must be ${format?.says ?? making.generate}`);
    const values = plan.get(target.secret) ?? {};
    values[target.key] = value;
    plan.set(target.secret, values);
  }
  for (const [secret, values] of plan) {
    const missing = Object.entries(secret.keys)
      .filter(([key, making]) => 'generate' in making && values[key] === undefined)
      .map(([key]) => envVariable(secret.name, key));
    if (missing.length) throw new Error(`${source}: ${secret.name} needs all its keys or none; missing ${missing.join(', ')}`);
    for (const [key, making] of Object.entries(secret.keys)) if ('value' in making) values[key] = making.value;
  }
  if (plan.size === 0) throw new Error(`${source}: no variable of the stack's Secrets (plane-k3s secrets variables lists them)`);
  return plan;
}

/** Creates each planned Secret that does not exist (POST: no value in any annotation); an existing one is kept. */
export function loadSteps(ctx: OpsContext, plan: Map<ExpectedSecret, Record<string, string>>): Step[] {
  for (const values of plan.values()) for (const value of Object.values(values)) ctx.redactor.add(value);
  const ns = ctx.stack.namespace;
  return [
    {
      id: 'secrets/load',
      title: `create the Secrets of the file in ${ns} (existing ones are kept)`,
      fix: `create the namespace first: kubectl apply -f ${namespaceFile(ctx)}`,
      run: async () => {
        const namespace = await ctx.kube.maybe(() => ctx.kube.core.readNamespace({ name: ns }));
        if (!namespace)
          return [
            fail(
              'secrets/load',
              `namespace ${ns} does not exist`,
              `kubectl apply -f ${namespaceFile(ctx)} (the namespace alone), then load again`,
            ),
          ];
        const results: CheckResult[] = [];
        for (const [secret, values] of plan) {
          const id = `${ns}/${secret.name}`;
          const live = await ctx.kube.maybe(() => ctx.kube.core.readNamespacedSecret({ name: secret.name, namespace: ns }));
          if (live) {
            const same = Object.entries(values).every(([k, v]) => live.data?.[k] === Buffer.from(v).toString('base64'));
            results.push(
              skip(
                id,
                `exists: kept as it is${same ? ' (same values)' : ' (its values differ from the file: rotate on purpose, docs/runbook.md "Rotating a Secret")'}`,
              ),
            );
            continue;
          }
          await ctx.kube.core.createNamespacedSecret({
            namespace: ns,
            body: { metadata: { name: secret.name, namespace: ns, labels: { ...secret.labels } }, type: 'Opaque', stringData: values },
          });
          results.push(pass(id, `created with keys ${Object.keys(values).sort().join(', ')}`));
        }
        return results;
      },
    },
  ];
}

function namespaceFile(ctx: OpsContext): string {
  return `dist/${ctx.stack.namespaceFile}`;
}

export interface RotateOptions {
  readonly secret: string;
  readonly key?: string;
  /** Rotating Django's SECRET_KEY loses Plane's encrypted instance settings: asked for by name. */
  readonly acceptSettingsLoss: boolean;
  /** An API token: the old one stops as soon as provisioning ran (a leaked token), instead of after users.tokens.overlapHours. */
  readonly revokeOld?: boolean;
  readonly timeoutMs: number;
}

/** What rotating each kind of key means, and whether this command does it. */
interface Rotation {
  readonly key: string;
  readonly consequence: string;
  /** Deployments whose pods read the key: restarted afterwards (they read it at start). */
  readonly restart: string[];
  /**
   * Jobs that read the key and hand it on, run again: provisioning writes a new token into Plane (the old
   * one works on for the overlap, or stops at once with revokeOld). Other Jobs and the CronJobs read the
   * new value at their next run.
   */
  readonly rerun: Workload[];
  /** Set on the re-run Jobs: the overlap override that stops the old token at once. */
  readonly rerunEnv: Record<string, string>;
  /** What happens to the old value once the re-run Jobs are done. */
  readonly afterwards?: string;
}

export function planRotation(stack: Stack, options: RotateOptions): Rotation {
  const secret = stack.secret(options.secret);
  if (!secret) throw new Error(`secret: ${options.secret} is not one of the stack's Secrets (${stack.secretNames.join(', ')})`);
  const generated = Object.entries(secret.keys)
    .filter(([, m]) => 'generate' in m)
    .map(([k]) => k);
  const key = options.key ?? (generated.length === 1 ? generated[0] : generated.includes(API_KEY) ? API_KEY : undefined);
  if (!key || !generated.includes(key))
    throw new Error(`--key: ${secret.name} has the generated keys ${generated.join(', ')}; name one with --key`);
  // Every reader the stack knows of, by construction: restarted, or run again when it hands the value on.
  const readers = stack.readersOf(secret.name, key);
  const readersActions = {
    restart: readers.filter((w) => w.kind === 'Deployment').map((w) => w.name),
    rerun: readers.filter((w) => w.kind === 'Job' && w.handsSecretsOn),
  };
  const manual = (why: string) => new Error(`${secret.name} ${key}: ${why}; follow docs/runbook.md "Rotating a Secret"`);
  if (options.revokeOld && key !== API_KEY) throw new Error(`--revoke-old: only for an API token (${API_KEY}), not ${secret.name} ${key}`);
  if (key === API_KEY) {
    const { overlapHours } = stack.site.users.tokens;
    const revoke = options.revokeOld || overlapHours === 0;
    const afterwards = revoke ? 'the old token no longer works' : `the old token works ${overlapHours} h more, then stops`;
    return {
      key,
      ...readersActions,
      rerunEnv: options.revokeOld ? { [OVERLAP_OVERRIDE_VARIABLE]: '0' } : {},
      afterwards,
      consequence: `${revoke ? 'the old token stops working as soon as provisioning has run' : `the old token keeps working ${overlapHours} h after provisioning has run (users.tokens.overlapHours; --revoke-old for a leaked token)`}; agents read the new one from their Secret, outside the cluster from their new connection file (plane-k3s secrets connection)`,
    };
  }
  if (key === REPOSITORY_KEY)
    throw manual(
      'every backup is encrypted with it: a new key is added to the repository first (restic key add), or no backup can be read again',
    );
  const djangoKey = stack.secretRefOf('api', 'SECRET_KEY');
  if (secret.name === djangoKey.secretName && key === djangoKey.key) {
    if (!options.acceptSettingsLoss)
      throw new Error(
        `${secret.name} ${key} is Django's SECRET_KEY: it encrypts Plane's instance settings (SMTP password, OAuth secrets), which then read as empty, and signs everyone out; add --accept-settings-loss to rotate it anyway`,
      );
    return {
      key,
      ...readersActions,
      rerunEnv: {},
      consequence: 'everyone is signed out; instance settings set in god-mode (SMTP, OAuth) must be entered again',
    };
  }
  if (secret.name === PLANE_APP_SECRET)
    return { key, ...readersActions, rerunEnv: {}, consequence: 'open live-collaboration sessions reconnect' };
  if (secret.name === adminPassword.secretName && key === adminPassword.key)
    throw manual("the initial password is used once; the admin changes it in Plane's profile");
  throw manual('the server holds this value too and must change first');
}

export function rotateSteps(ctx: OpsContext, options: RotateOptions, rotation: Rotation): Step[] {
  const ns = ctx.stack.namespace;
  const secret = ctx.stack.secret(options.secret) as ExpectedSecret;
  const making = secret.keys[rotation.key] as { generate: string };
  const steps: Step[] = [
    {
      id: `rotate/${secret.name}`,
      title: `new ${rotation.key} in ${secret.name}`,
      run: async () => {
        const live = await ctx.kube.maybe(() => ctx.kube.core.readNamespacedSecret({ name: secret.name, namespace: ns }));
        if (!live) throw new Error(`Secret ${ns}/${secret.name} does not exist: nothing to rotate (kubectl apply -f dist makes it)`);
        const value = generateValue(making.generate);
        ctx.redactor.add(value);
        // A replace with the read resourceVersion: a concurrent change makes it fail instead of being lost.
        live.data = { ...live.data, [rotation.key]: Buffer.from(value).toString('base64') };
        await ctx.kube.core.replaceNamespacedSecret({ name: secret.name, namespace: ns, body: live });
        return [pass(`rotate/${secret.name}`, `${rotation.key} replaced; ${rotation.consequence}`)];
      },
    },
  ];
  for (const reader of rotation.rerun) {
    const id = `rotate/${reader.component}`;
    steps.push({
      id,
      title: `run ${reader.component} again, with the new value`,
      fix: `kubectl -n ${ns} logs job/<the rotate Job>; until it succeeds, what it hands on keeps the old value`,
      run: async (progress) => {
        const job = await ctx.kube.maybe(() => ctx.kube.batch.readNamespacedJob({ name: reader.name, namespace: ns }));
        if (!job) throw new Error(`Job ${reader.name} does not exist: kubectl apply -f dist first`);
        const name = runName(reader.name, 'rotate');
        await ctx.kube.batch.createNamespacedJob({ namespace: ns, body: rerunOfJob(job, name, rotation.rerunEnv) });
        const outcome = await waitForJob(ctx.kube, ns, name, options.timeoutMs, progress);
        return [
          outcome.done
            ? pass(
                id,
                `job/${name} complete${reader.handsSecretsOn && rotation.afterwards ? `: Plane has the new token, ${rotation.afterwards}` : ''}`,
              )
            : fail(id, `job/${name}: ${outcome.reason}`, `kubectl -n ${ns} logs job/${name}`),
        ];
      },
    });
  }
  for (const deployment of rotation.restart) {
    steps.push({
      id: `rotate/restart/${deployment}`,
      title: `restart ${deployment}`,
      run: async () => {
        await restartDeployment(ctx, deployment);
        return [pass(`rotate/restart/${deployment}`, 'rollout restarted (pods read the Secret at start)')];
      },
    });
  }
  return steps;
}

/** What `kubectl rollout restart` does: a new template annotation, so the Deployment rolls. */
export async function restartDeployment(ctx: OpsContext, name: string): Promise<void> {
  const patch = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } };
  try {
    await ctx.kube.apps.patchNamespacedDeployment({ name, namespace: ctx.stack.namespace, body: patch }, mergePatch());
  } catch (error) {
    throw new Error(`restart ${name}: ${describeKubeError(error)}`);
  }
}

/** Request options for a JSON merge patch (@kubernetes/client-node sends JSON patch otherwise). */
export function mergePatch() {
  return k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
}

export interface ConnectionOptions {
  /** `admin` or an agent id. */
  readonly who: string;
  readonly output: string;
  readonly force: boolean;
}

/** What a connection holds: the environment Plane's MCP server reads. */
export const CONNECTION_KEYS = [API_KEY, BASE_URL_KEY, WORKSPACE_SLUG_KEY] as const;

/**
 * The connection file's text: one `NAME=value` line per key, no quotes (the values have no spaces), so
 * `uvx --env-file`, systemd's EnvironmentFile, `docker --env-file` and this CLI's env-file parser all
 * read it alike.
 */
export function connectionFile(values: Readonly<Record<string, string>>): string {
  return CONNECTION_KEYS.map((k) => `${k}=${values[k]}\n`).join('');
}

/** Writes the person's connection (PLANE_API_KEY, PLANE_BASE_URL, PLANE_WORKSPACE_SLUG) to a 0600 file. */
export function connectionSteps(ctx: OpsContext, options: ConnectionOptions): Step[] {
  const name =
    options.who === 'admin'
      ? ADMIN_SECRET
      : ctx.stack.users.agents.some((a) => a.id === options.who)
        ? agentSecretName(options.who)
        : undefined;
  if (!name)
    throw new Error(
      `connection: "${options.who}" is neither admin nor an agent of the site (${ctx.stack.users.agents.map((a) => a.id).join(', ')})`,
    );
  const refusal = privateFileRefusal(options.output, options.force);
  if (refusal) throw new Error(refusal);
  return [
    {
      id: `connection/${options.who}`,
      title: `write ${options.who}'s connection to ${options.output}`,
      run: async () => {
        const values = await ctx.readSecret(name);
        if (!values) throw new Error(`Secret ${ctx.stack.namespace}/${name} does not exist (kubectl apply -f dist makes it)`);
        const missing = CONNECTION_KEYS.filter((k) => !values[k]);
        if (missing.length) throw new Error(`Secret ${name} lacks ${missing.join(', ')}`);
        writePrivateFile(options.output, connectionFile(values), options.force);
        return [pass(`connection/${options.who}`, `${path.resolve(options.output)} written (mode 0600): ${CONNECTION_KEYS.join(', ')}`)];
      },
    },
  ];
}

/**
 * Why `file` cannot be written (or replaced without `force`), or undefined. The path itself is looked at,
 * never what a symlink points to: a link (dangling or not) is replaced only with `force`, a directory never.
 */
export function privateFileRefusal(file: string, force: boolean): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `${file}: ${fileError(error)}`;
  }
  if (stat.isDirectory()) return `${file} is a directory; name a file to write`;
  if (force) return undefined;
  if (stat.isSymbolicLink()) return `${file} is a symlink; add --force to replace the link (its target is left alone)`;
  return `${file} exists; add --force to replace it`;
}

/**
 * Creates the file readable by its owner only, atomically: the content goes to a new 0600 file in the same
 * directory (O_EXCL, O_NOFOLLOW), which then takes the path: linked to it without `force` (which fails if
 * anything appeared there meanwhile), renamed over it with `force` (replacing a file or a symlink itself,
 * never writing through one). The temporary file is removed whatever fails.
 */
export function writePrivateFile(file: string, content: string, force: boolean): void {
  const refusal = privateFileRefusal(file, force);
  if (refusal) throw new Error(refusal);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    const { O_CREAT, O_EXCL, O_WRONLY, O_NOFOLLOW } = fs.constants;
    fd = fs.openSync(temporary, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0o600);
  } catch (error) {
    throw new Error(`${file}: ${fileError(error)}`);
  }
  try {
    try {
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (force) fs.renameSync(temporary, file);
    else linkOrRename(temporary, file);
  } catch (error) {
    // A path taken meanwhile says what is there now; anything else says what failed, never the content.
    throw new Error(privateFileRefusal(file, force) ?? `${file}: ${fileError(error)}`);
  } finally {
    // Gone after a rename; after a link or a failure it is ours to remove (in a directory we could write to).
    fs.rmSync(temporary, { force: true });
  }
}

/** A hard link fails if the path is taken (by anything, a dangling symlink too); where the file system has none, a rename after one more look. */
function linkOrRename(temporary: string, file: string): void {
  try {
    fs.linkSync(temporary, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'].includes(code ?? '') || privateFileRefusal(file, false)) throw error;
    fs.renameSync(temporary, file);
  }
}

/** A file system error in a few words (Node's message repeats the path, the temporary one included). */
function fileError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: 'no such directory',
    ENOTDIR: 'a part of the path is not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory; name a file to write',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
  };
  return (code && known[code]) ?? `${code ?? 'error'}: cannot write it`;
}
