/**
 * `plane-k3s audit`: reads Caddy's access log (the current file and the rolled, gzip-compressed ones)
 * from the running Caddy pod, through the API server's exec (`ls` and `cat` of the image's busybox),
 * hashes the tokens of the admin's and the agents' Secrets as Caddy's log filter does, and sums the
 * trail up per caller (./audit). No token is ever printed: only their hashes, as the log has them.
 */
import { gunzipSync } from 'node:zlib';
import { ADMIN_SECRET, agentSecretName, API_KEY } from '../lib/plane/connection-secrets';
import { AuditSummary, AuditTrail, callersByHash, trailFiles } from './audit';
import { OpsContext } from './context';

/** The audit cannot be read (no Caddy pod, no log yet): one line, as the CLI reports it. */
export class AuditUnavailable extends Error {}

export interface AuditRequest {
  readonly since?: Date;
  /** An agent id or admin, already checked against the site. */
  readonly caller?: string;
}

/** Every caller the site knows: admin, then the agents by id. */
export function siteCallers(ctx: Pick<OpsContext, 'stack'>): string[] {
  return ['admin', ...ctx.stack.users.agents.map((a) => a.id)];
}

/** A file of up to this size is read in one exec; the trail's bound (edge.auditLog.maxSizeMiB) keeps them far smaller. */
const READ_TIMEOUT_MS = 120_000;

export async function readAudit(ctx: OpsContext, request: AuditRequest, progress: (message: string) => void): Promise<AuditSummary> {
  const { workload, directory, fileName } = ctx.stack.model.edgeAuditLog;
  const { namespace } = workload;
  const selector = Object.entries(workload.peer.podSelector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = (await ctx.kube.podsOf(namespace, workload.peer.podSelector)).filter((p) => p.status?.phase === 'Running');
  const pod = pods[0]?.metadata?.name;
  if (!pod) {
    throw new AuditUnavailable(
      `no running Caddy pod in namespace ${namespace} (kubectl -n ${namespace} get pods -l ${selector}): the trail is read through it`,
    );
  }
  const where = `${namespace}/${pod}:${directory}`;
  let listing: string;
  try {
    listing = await ctx.kube.exec(namespace, pod, workload.container, ['ls', '-1', directory]);
  } catch (error) {
    throw new AuditUnavailable(
      `cannot list ${where} (${firstLine(error)}): a Caddy from before edge.auditLog has no such folder; kubectl apply -f dist`,
    );
  }
  if (trailFiles(listing, fileName).length === 0) {
    throw new AuditUnavailable(
      `no audit log in ${where} yet (no ${fileName}): Caddy writes it from its start; is it running this version of dist/?`,
    );
  }

  progress('hashing the tokens of the Secrets');
  const tokens: Record<string, string> = {};
  const secrets: [string, string][] = [
    ['admin', ADMIN_SECRET],
    ...ctx.stack.users.agents.map((a): [string, string] => [a.id, agentSecretName(a.id)]),
  ];
  const missing: string[] = [];
  for (const [caller, secretName] of secrets) {
    // readSecret redacts every value it reads from whatever is shown afterwards.
    const token = (await ctx.readSecret(secretName))?.[API_KEY];
    if (token) tokens[caller] = token;
    else missing.push(secretName);
  }
  if (missing.length > 0) progress(`no token in ${missing.join(', ')}: their calls show as unknown keys`);

  const trail = new AuditTrail(callersByHash(tokens), { since: request.since, caller: request.caller });
  const files = trailFiles(listing, fileName, request.since);
  for (const [index, file] of files.entries()) {
    progress(`reading ${file.name} (${index + 1}/${files.length})`);
    const read = (name: string) => ctx.kube.execBytes(namespace, pod, workload.container, ['cat', `${directory}/${name}`], READ_TIMEOUT_MS);
    let bytes: Buffer;
    let gzip = file.gzip;
    try {
      bytes = await read(file.name);
    } catch (error) {
      if (!file.rolledAt) throw error;
      // Compressed since the listing (its .gz is read), or removed by the retention meanwhile (skipped).
      const compressed = file.gzip ? undefined : await read(`${file.name}.gz`).catch(() => undefined);
      if (!compressed) {
        progress(`${file.name} is gone (removed by the retention since the listing): skipped`);
        continue;
      }
      bytes = compressed;
      gzip = true;
    }
    let text: string;
    try {
      text = (gzip ? gunzipSync(bytes) : bytes).toString('utf8');
    } catch (error) {
      throw new AuditUnavailable(`${where}/${file.name} is not a readable gzip file (${firstLine(error)})`);
    }
    for (const line of text.split('\n')) trail.add(line);
  }
  return trail.summary();
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
