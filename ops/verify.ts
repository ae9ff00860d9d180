/**
 * `plane-k3s verify`: the seed's Definition of Done, checked against the current kube context.
 * Each check passes, fails with the evidence and the fix, or is skipped with the reason.
 */
import { promises as dns } from 'node:dns';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { CronExpressionParser } from 'cron-parser';
import { Client } from 'pg';
import { adminApiKey, agentApiKey } from '../lib/plane/connection-secrets';
import { OpsContext } from './context';
import { describeKubeError, Forward } from './kube';
import { PLANE_ROLES, PlaneApi } from './plane-api';
import { checkMitigations, judgeAdvisories } from './advisories-check';
import { judgeTokenState, readTokenState } from './agent-tokens';
import { CheckResult, fail, pass, skip, Step } from './report';
import { ExpectedWorkload, providedSecrets } from './stack';

export interface VerifyOptions {
  /** Oldest acceptable successful backup. @default 26 hours (a daily schedule and its run time) */
  readonly backupMaxAgeHours: number;
  /** Log lines read per api and worker pod (the seed's `logs --tail=50`). */
  readonly logLines: number;
  /** From the operator's machine, on the VPN: the app host answers 200 and resolves to the VPN address. */
  readonly fromVpn: boolean;
  /** From the operator's machine, outside the VPN: the app host answers 403. */
  readonly fromOutside: boolean;
}

/** Lines that mean something went wrong in a Django/Celery log. */
const LOG_PROBLEM = /Traceback \(most recent call last\)|\b(ERROR|CRITICAL)\b|Unhandled exception/;

export function verifySteps(ctx: OpsContext, options: VerifyOptions): Step[] {
  const { stack } = ctx;
  const ns = stack.namespace;
  // The api forward is shared by the Plane checks: one port-forward, opened on first use.
  let apiForward: Promise<Forward> | undefined;
  const api = async () => {
    apiForward ??= ctx.kube.forwardService(ns, stack.apiService.name, stack.apiService.port);
    return new PlaneApi(await apiForward, stack.appHost, stack.users.workspace.slug);
  };
  const steps: Step[] = [
    { id: 'workloads', title: "workloads available on the site's images", run: () => checkWorkloads(ctx) },
    { id: 'jobs', title: 'migrator, secrets, provisioning and keep-data Jobs of this version', run: () => checkJobs(ctx) },
    { id: 'keep-data', title: 'the guard that keeps the data volumes', run: async () => [await checkKeepDataGuard(ctx)] },
    { id: 'secrets', title: 'Secrets present (names and keys only)', run: () => checkSecrets(ctx) },
    { id: 'api-env', title: 'api environment (names only)', run: () => checkApiEnv(ctx) },
    {
      id: 'health/api',
      title: 'Plane health through the api Service',
      fix: `kubectl -n ${ns} describe pod -l app.kubernetes.io/name=api; kubectl -n ${ns} logs deploy/${stack.apiService.name}`,
      run: async () => [await checkApiHealth(ctx, await api())],
    },
    { id: 'health/edge', title: 'Plane through Caddy with the app host', run: () => checkEdge(ctx) },
    { id: 'workspace', title: 'workspace members and roles', fix: provisioningFix(ctx), run: async () => checkMembers(ctx, await api()) },
    {
      id: 'tokens',
      title: "each agent's own token: users/me and the workspace's projects",
      fix: provisioningFix(ctx),
      run: async () => checkTokens(ctx, await api()),
    },
    { id: 'token-lifetime', title: "agents' tokens: expiry and last use", run: () => checkTokenLifetimes(ctx) },
    { id: 'signup', title: 'sign-up closed', fix: provisioningFix(ctx), run: async () => [await checkSignup(await api())] },
    {
      id: 'advisories',
      title: "Plane's known advisories for the running version, and the defences they rely on",
      run: async () => {
        const { instance, config } = await (await api()).instance();
        const version = typeof instance.current_version === 'string' ? instance.current_version : ctx.stack.site.images.plane.tag;
        return [judgeAdvisories(version), ...(await checkMitigations(ctx, async () => config, version))];
      },
    },
    { id: 'database', title: "database reachable as Plane's user", run: async () => [await checkDatabase(ctx)] },
    { id: 'logs', title: `api and worker logs (last ${options.logLines} lines)`, run: () => checkLogs(ctx, options.logLines) },
    { id: 'backup', title: 'latest backup', run: async () => [await checkBackup(ctx, options.backupMaxAgeHours)] },
    { id: 'backup/drill', title: 'latest restore drill', run: async () => [await checkDrill(ctx)] },
    { id: 'network', title: 'from this machine: VPN, outside, split DNS', run: () => checkFromHere(ctx, options) },
    {
      id: 'close',
      title: 'close the port-forward',
      run: async () => {
        if (apiForward) await (await apiForward.catch(() => undefined))?.close();
        return [];
      },
    },
  ];
  return steps;
}

function provisioningFix(ctx: OpsContext): string {
  const job = ctx.stack.workload('Job', 'provisioning').name;
  return `kubectl -n ${ctx.stack.namespace} logs job/${job}; the provisioning Job converges Plane to the site's users (docs/configuration.md "Users and agents")`;
}

async function checkWorkloads(ctx: OpsContext): Promise<CheckResult[]> {
  return Promise.all(ctx.stack.workloads.map((w) => checkWorkload(ctx, w)));
}

async function checkWorkload(ctx: OpsContext, expected: ExpectedWorkload): Promise<CheckResult> {
  const id = `workload/${expected.name}`;
  const { name, namespace } = expected;
  const live =
    expected.kind === 'Deployment'
      ? await ctx.kube.maybe(() => ctx.kube.apps.readNamespacedDeployment({ name, namespace }))
      : await ctx.kube.maybe(() => ctx.kube.apps.readNamespacedStatefulSet({ name, namespace }));
  const describe = `kubectl -n ${namespace} describe ${expected.kind.toLowerCase()}/${name}`;
  if (!live) return fail(id, `${expected.kind} ${namespace}/${name} does not exist`, 'kubectl apply -f dist');
  const podSpec = live.spec?.template.spec;
  const images = Object.fromEntries([...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])].map((c) => [c.name, c.image]));
  const wrong = Object.entries(expected.images)
    .filter(([container, image]) => images[container] !== image)
    .map(([container, image]) => `${container} runs ${images[container] ?? 'nothing'}, the site says ${image}`);
  if (wrong.length)
    return fail(id, wrong.join('; '), 'npm run synth && kubectl apply -f dist (or the site file is not the one deployed: --site)');
  const status = live.status ?? {};
  const available = 'availableReplicas' in status ? (status.availableReplicas ?? 0) : 0;
  const updated = status.updatedReplicas ?? 0;
  const want = live.spec?.replicas ?? expected.replicas;
  const current = (status.observedGeneration ?? 0) >= (live.metadata?.generation ?? 0);
  if (!current || available < want || updated < want) {
    return fail(
      id,
      `${available}/${want} available, ${updated}/${want} updated${current ? '' : ', rollout not yet observed'}`,
      `${describe}; kubectl -n ${namespace} get pods`,
    );
  }
  const tags = [...new Set(Object.values(expected.images).map((image) => image.split('/').pop()))].join(', ');
  return pass(id, `${available}/${want} available, ${tags}`);
}

async function checkJobs(ctx: OpsContext): Promise<CheckResult[]> {
  const ns = ctx.stack.namespace;
  const results: CheckResult[] = [];
  for (const role of ['migrator', 'secrets-bootstrap', 'provisioning', 'postgres-bootstrap', 'keep-data']) {
    const workload = ctx.stack.maybeWorkload('Job', role);
    if (!workload) continue;
    const name = workload.name;
    const id = `job/${role}`;
    const job = await ctx.kube.maybe(() => ctx.kube.batch.readNamespacedJob({ name, namespace: ns }));
    const logs = `kubectl -n ${ns} logs job/${name}`;
    if (!job) {
      results.push(fail(id, `Job ${name} of this version does not exist`, 'kubectl apply -f dist'));
      continue;
    }
    const conditions = job.status?.conditions ?? [];
    const done = conditions.find((c) => c.type === 'Complete' && c.status === 'True');
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    if (done)
      results.push(
        pass(id, `${name} complete${job.status?.completionTime ? ` at ${new Date(job.status.completionTime).toISOString()}` : ''}`),
      );
    else if (failed)
      results.push(
        fail(
          id,
          `${name} failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim(),
          `${logs}; fix the cause, then kubectl -n ${ns} delete job ${name} && kubectl apply -f dist`,
        ),
      );
    else
      results.push(
        fail(
          id,
          `${name} not complete yet (active ${job.status?.active ?? 0}, failed attempts ${job.status?.failed ?? 0})`,
          `${logs}; wait, or kubectl -n ${ns} describe job ${name}`,
        ),
      );
  }
  return results;
}

/** The admission policy and binding that refuse deleting the namespace and its claims: both present. */
async function checkKeepDataGuard(ctx: OpsContext): Promise<CheckResult> {
  const guard = ctx.stack.keepDataGuard;
  if (guard.length === 0) return skip('keep-data', 'the site keeps no data in the cluster');
  const missing: string[] = [];
  for (const { kind, name } of guard) {
    const found =
      kind === 'ValidatingAdmissionPolicy'
        ? await ctx.kube.maybe(() => ctx.kube.admission.readValidatingAdmissionPolicy({ name }))
        : await ctx.kube.maybe(() => ctx.kube.admission.readValidatingAdmissionPolicyBinding({ name }));
    if (!found) missing.push(`${kind} ${name}`);
  }
  const ns = ctx.stack.namespace;
  if (missing.length > 0) {
    return fail(
      'keep-data',
      `${missing.join(', ')} missing: namespace ${ns} and its volumes can be deleted`,
      `kubectl -n ${ns} delete job -l app.kubernetes.io/name=keep-data && kubectl apply -f dist (the Job applies it again)`,
    );
  }
  return pass(
    'keep-data',
    `${guard.map((g) => `${g.kind} ${g.name}`).join(', ')} present: deleting namespace ${ns} or its claims is refused`,
  );
}

async function checkSecrets(ctx: OpsContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const expected = [
    ...ctx.stack.secrets.map((s) => ({ name: s.name, namespace: s.namespace, keys: Object.keys(s.keys), by: 'the secrets bootstrap Job' })),
    ...providedSecrets(ctx.stack).map((s) => ({ ...s, by: 'you (docs/configuration.md "Secrets")' })),
  ];
  for (const secret of expected) {
    const id = `secret/${secret.name}`;
    const live = await ctx.kube.maybe(() => ctx.kube.core.readNamespacedSecret({ name: secret.name, namespace: secret.namespace }));
    if (!live) {
      results.push(
        fail(
          id,
          `Secret ${secret.namespace}/${secret.name} does not exist`,
          `made by ${secret.by}: kubectl apply -f dist, or plane-k3s secrets list`,
        ),
      );
      continue;
    }
    const present = Object.keys(live.data ?? {});
    const missing = secret.keys.filter((key) => !present.includes(key));
    if (missing.length) results.push(fail(id, `missing key(s) ${missing.join(', ')}`, 'docs/runbook.md "Rotating a Secret"'));
    else results.push(pass(id, `keys ${present.sort().join(', ')}`));
  }
  return results;
}

/**
 * Every variable the api container declares is set in the running process. The command prints names
 * only (`printenv NAME >/dev/null`), so no value leaves the pod.
 */
async function checkApiEnv(ctx: OpsContext): Promise<CheckResult[]> {
  const ns = ctx.stack.namespace;
  const api = ctx.stack.workload('Deployment', 'api');
  const names = ctx.stack.declaredEnv('api');
  const pods = await ctx.kube.podsOf(ns, api.peer.podSelector);
  const pod = pods.find((p) => p.status?.phase === 'Running');
  if (!pod) return [fail('api-env', 'no running api pod', `kubectl -n ${ns} get pods -l app.kubernetes.io/name=api`)];
  const script = 'for n in "$@"; do printenv "$n" >/dev/null && echo "$n"; done; true';
  let output: string;
  try {
    output = await ctx.kube.exec(ns, pod.metadata?.name as string, api.container, ['sh', '-c', script, 'sh', ...names]);
  } catch (error) {
    return [
      fail('api-env', `exec into ${pod.metadata?.name}: ${describeKubeError(error)}`, 'your kubeconfig needs pods/exec in the namespace'),
    ];
  }
  return [judgeApiEnv(names, output, pod.metadata?.name as string, `kubectl -n ${ns} rollout restart deployment/${api.name}`)];
}

/** The declared `names` against the names the pod printed (one per line): every one must be there. */
export function judgeApiEnv(names: readonly string[], printed: string, pod: string, restart: string): CheckResult {
  const present = new Set(
    printed
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
  const missing = names.filter((n) => !present.has(n));
  if (missing.length) return fail('api-env', `${pod} lacks ${missing.join(', ')}`, `the pod predates its config: ${restart}`);
  return pass(
    'api-env',
    `${names.length} variables set in ${pod}, e.g. ${names.filter((n) => /DATABASE_URL|SECRET_KEY|REDIS_URL/.test(n)).join(', ')}`,
  );
}

async function checkApiHealth(ctx: OpsContext, api: PlaneApi): Promise<CheckResult> {
  const response = await api.request('GET', '/');
  if (response.status === 200 && /"status"\s*:\s*"OK"/.test(response.body)) return pass('health/api', 'GET / → 200 {"status": "OK"}');
  return fail(
    'health/api',
    `GET / → ${response.status} ${response.body.slice(0, 120)}`,
    `kubectl -n ${ctx.stack.namespace} logs deploy/${ctx.stack.apiService.name} --tail=50`,
  );
}

/**
 * The certificate the edge presents: for the app host, not expired, and, when the operator renews it
 * (TLS mode `secret`), not within `minDays` of its end; Caddy renews its own certificates itself.
 */
export function judgeCertificate(
  certificate: tls.PeerCertificate | undefined,
  host: string,
  minDays: number,
  now = new Date(),
): { ok: boolean; detail: string } {
  if (!certificate?.valid_to) return { ok: false, detail: 'no certificate presented' };
  const until = new Date(certificate.valid_to);
  const mismatch = tls.checkServerIdentity(host, certificate);
  if (mismatch) return { ok: false, detail: `certificate not for ${host} (${certificate.subjectaltname ?? certificate.subject?.CN})` };
  if (until <= now) return { ok: false, detail: `certificate for ${host} expired ${until.toISOString()}` };
  const days = Math.floor((until.getTime() - now.getTime()) / 86_400_000);
  const soon = days < minDays ? `, renew it within ${days} days` : '';
  return { ok: !soon, detail: `certificate for ${host} valid until ${until.toISOString()} (${days} days)${soon}` };
}

async function checkEdge(ctx: OpsContext): Promise<CheckResult[]> {
  const caddy = ctx.stack.service('caddy');
  const namespace = caddy.namespace;
  const forward = await ctx.kube.forwardService(namespace, caddy.name, caddy.port);
  try {
    const results: CheckResult[] = [];
    let certificate: tls.PeerCertificate | undefined;
    for (const path of ['/', '/api/instances/']) {
      const response = await forward.request({ path, headers: { host: ctx.stack.appHost }, tlsServerName: ctx.stack.appHost });
      certificate ??= response.certificate;
      const id = `health/edge${path === '/' ? '' : path.replace(/\/$/, '')}`;
      if (response.status === 200) results.push(pass(id, `https://${ctx.stack.appHost}${path} → 200 through ${forward.pod}`));
      else {
        results.push(
          fail(
            id,
            `https://${ctx.stack.appHost}${path} → ${response.status} through ${forward.pod}`,
            `kubectl -n ${namespace} logs deploy/${caddy.name} --tail=50; 403 means the peer was not allowed by vpn_only, 502 an upstream down`,
          ),
        );
      }
    }
    const operatorRenews = ctx.stack.site.edge.tls.mode === 'secret';
    const judged = judgeCertificate(certificate, ctx.stack.appHost, operatorRenews ? 14 : 0);
    results.push(
      judged.ok
        ? pass('health/edge/certificate', judged.detail)
        : fail(
            'health/edge/certificate',
            judged.detail,
            operatorRenews
              ? `replace Secret ${namespace}/${providedSecrets(ctx.stack).find((p) => p.namespace === namespace)?.name} with the renewed certificate (docs/runbook.md "Renewing the certificate"), then kubectl -n ${namespace} rollout restart deployment/${caddy.name}`
              : `kubectl -n ${namespace} logs deploy/${caddy.name}: Caddy renews this certificate itself`,
          ),
    );
    return results;
  } finally {
    await forward.close();
  }
}

async function checkMembers(ctx: OpsContext, api: PlaneApi): Promise<CheckResult[]> {
  const adminKey = await ctx.secretValue(adminApiKey);
  const members = await api.members(adminKey);
  const byEmail = new Map(members.map((m) => [m.email.toLowerCase(), m]));
  const people = [{ id: 'admin', ...ctx.stack.users.admin }, ...ctx.stack.users.agents];
  const wrong: string[] = [];
  for (const person of people) {
    const member = byEmail.get(person.email);
    const role = PLANE_ROLES[person.role];
    if (!member) wrong.push(`${person.email} is not a member`);
    else if (member.role !== role) wrong.push(`${person.email} has role ${member.role}, the site says ${person.role} (${role})`);
  }
  const id = 'workspace';
  if (wrong.length) return [fail(id, `workspace ${api.workspace}: ${wrong.join('; ')}`, provisioningFix(ctx))];
  const admins = people.filter((p) => p.role === 'Admin').length;
  return [
    pass(
      id,
      `workspace ${api.workspace}: the admin and ${ctx.stack.users.agents.length} agents are members (${admins} Admin, ${people.length - admins} other), ${members.length} members in all`,
    ),
  ];
}

async function checkTokens(ctx: OpsContext, api: PlaneApi): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const agent of ctx.stack.users.agents) {
    const id = `token/${agent.id}`;
    const ref = agentApiKey(agent.id);
    const token = (await ctx.readSecret(ref.secretName))?.[ref.key];
    if (!token) {
      results.push(fail(id, `Secret ${ref.secretName} or its ${ref.key} is missing`, 'kubectl apply -f dist (the bootstrap Job makes it)'));
      continue;
    }
    results.push(judgeAgentAccess(agent.email, api.workspace, await agentAccess(api, token), provisioningFix(ctx), id));
  }
  return results;
}

/** What one agent's own token gets: its user, and the workspace's projects (Plane checks an active membership there). */
export interface AgentAccess {
  readonly me: { readonly status: number; readonly email: string };
  readonly projects: { readonly status: number } | undefined;
}

export async function agentAccess(api: PlaneApi, token: string): Promise<AgentAccess> {
  const response = await api.request('GET', '/api/v1/users/me/', token);
  let email = '';
  try {
    email = String(JSON.parse(response.body).email ?? '').toLowerCase();
  } catch {
    /* judged below */
  }
  if (response.status !== 200) return { me: { status: response.status, email }, projects: undefined };
  // users/me answers for any valid token; the member list includes inactive members. A workspace
  // endpoint answers only an active member (ProjectBasePermission): what the agent's work needs.
  const projects = await api.request('GET', `${api.ws}/projects/?per_page=1`, token);
  return { me: { status: response.status, email }, projects: { status: projects.status } };
}

export function judgeAgentAccess(expectedEmail: string, workspace: string, access: AgentAccess, fix: string, id: string): CheckResult {
  const { me, projects } = access;
  if (me.status !== 200)
    return fail(id, `users/me → ${me.status}${me.status === 403 ? " (Plane's answer to an unknown, inactive or expired token)" : ''}`, fix);
  if (me.email !== expectedEmail) return fail(id, `users/me → 200 as ${me.email || 'an unknown user'}, expected ${expectedEmail}`, fix);
  if (projects?.status !== 200)
    return fail(
      id,
      `users/me → 200 as ${me.email}, but workspaces/${workspace}/projects/ → ${projects?.status}${projects?.status === 403 ? ': not an active member of the workspace' : ''}`,
      fix,
    );
  return pass(id, `users/me → 200 as ${me.email}; workspaces/${workspace}/projects/ → 200`);
}

/** The signup check: sign-up closed, workspace creation disabled, setup done (from /api/instances/). */
export async function checkSignup(api: PlaneApi): Promise<CheckResult> {
  const { config, instance } = await api.instance();
  const problems: string[] = [];
  if (config.enable_signup !== false) problems.push(`enable_signup is ${JSON.stringify(config.enable_signup)}`);
  if (config.is_workspace_creation_disabled !== true)
    problems.push(`is_workspace_creation_disabled is ${JSON.stringify(config.is_workspace_creation_disabled)}`);
  if (instance.is_setup_done !== true) problems.push('instance setup not done');
  const version = instance.current_version ? `, version ${instance.current_version}` : '';
  if (problems.length)
    return fail(
      'signup',
      `/api/instances/: ${problems.join(', ')}${version}`,
      'the provisioning Job writes these rows on each run: re-run it (runbook "Provisioning agents")',
    );
  return pass('signup', `/api/instances/: sign-up closed, workspace creation disabled, setup done${version}`);
}

/** A client logged in as Plane's database user (the password of its Secret) through a forward to the in-cluster server. */
async function withPlaneDatabase<T>(ctx: OpsContext, use: (client: Client, pod: string) => Promise<T>): Promise<T> {
  const { postgres } = ctx.stack.site.data;
  const server = ctx.stack.service('postgres');
  const password = await ctx.secretValue(ctx.stack.secretRefOf('api', 'POSTGRES_PASSWORD'));
  const forward = await ctx.kube.forwardService(server.namespace, server.name, server.port);
  const client = new Client({
    host: '127.0.0.1',
    port: forward.localPort,
    user: postgres.user,
    password,
    database: postgres.database,
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await use(client, forward.pod);
  } finally {
    await client.end().catch(() => undefined);
    await forward.close();
  }
}

/** Logs in as Plane's database user with the password of its Secret, through a forward to the server. */
async function checkDatabase(ctx: OpsContext): Promise<CheckResult> {
  const { postgres } = ctx.stack.site.data;
  if (postgres.external) {
    return skip(
      'database',
      `external PostgreSQL ${postgres.external.address}:${postgres.external.port}: not reachable from here; the migrator Job's login wait proves Plane's user can connect`,
    );
  }
  try {
    return await withPlaneDatabase(ctx, async (client, pod) => {
      const { rows } = await client.query(
        'select current_user as "user", current_database() as db, (select count(*) from information_schema.tables where table_schema = \'public\')::int as tables',
      );
      const { user, db, tables } = rows[0];
      if (tables === 0)
        return fail(
          'database',
          `logged in as ${user} to ${db}, but it has no tables`,
          'the migrator has not run: kubectl -n plane get jobs',
        );
      return pass('database', `logged in as ${user} to ${db} through ${pod} (${tables} tables)`);
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail(
      'database',
      `login as ${postgres.user} to ${postgres.database}: ${message}`,
      'a password changed in the Secret but not in the server? docs/runbook.md "Rotating a Secret"',
    );
  }
}

/** Each agent's token as Plane's database has it: expiry (a warning 14 days before), last use, the overlap of a replaced one. */
async function checkTokenLifetimes(ctx: OpsContext): Promise<CheckResult[]> {
  const { postgres } = ctx.stack.site.data;
  if (postgres.external)
    return [skip('token-lifetime', `external PostgreSQL ${postgres.external.address}: Plane's token rows are not readable from here`)];
  const { overlapHours } = ctx.stack.site.users.tokens;
  const rotation = ctx.stack.maybeWorkload('CronJob', 'token-rotation');
  const ns = ctx.stack.namespace;
  return withPlaneDatabase(ctx, async (client) => {
    const exists = await client.query("select to_regclass('public.api_tokens') is not null as present");
    // Without Plane's tables the migrator has not run: the database and job checks say so.
    if (!exists.rows[0].present) return [skip('token-lifetime', "Plane's table api_tokens is not in the database yet")];
    const results: CheckResult[] = [];
    for (const agent of ctx.stack.users.agents) {
      const ref = agentApiKey(agent.id);
      const token = (await ctx.readSecret(ref.secretName))?.[ref.key];
      if (!token) continue; // the tokens check reports the missing Secret
      const rotate = [
        rotation ? `kubectl -n ${ns} logs job -l app.kubernetes.io/name=${rotation.component} (the rotation CronJob ${rotation.name})` : '',
        `plane-k3s secrets rotate ${ref.secretName} --yes (the old token keeps working ${overlapHours} h)`,
      ]
        .filter(Boolean)
        .join('; or ');
      results.push(judgeTokenState(agent.id, await readTokenState(client, token), { provisioning: provisioningFix(ctx), rotate }));
    }
    return results;
  });
}

async function checkLogs(ctx: OpsContext, lines: number): Promise<CheckResult[]> {
  const ns = ctx.stack.namespace;
  const results: CheckResult[] = [];
  for (const role of ['api', 'worker']) {
    const deployment = ctx.stack.workload('Deployment', role);
    const container = deployment.container;
    const pods = (await ctx.kube.podsOf(ns, deployment.peer.podSelector)).filter((p) => p.status?.phase === 'Running');
    if (pods.length === 0) {
      results.push(fail(`logs/${role}`, 'no running pod', `kubectl -n ${ns} get pods -l app.kubernetes.io/name=${role}`));
      continue;
    }
    for (const pod of pods) {
      const name = pod.metadata?.name as string;
      const id = pods.length > 1 ? `logs/${role}/${name}` : `logs/${role}`;
      const tail = await ctx.kube.tail(ns, name, container, lines);
      const problems = tail.filter((line) => LOG_PROBLEM.test(line));
      if (problems.length === 0) results.push(pass(id, `${name}: ${tail.length} lines, no error or traceback`));
      else {
        const shown = problems
          .slice(0, 2)
          .map((l) => `"${logEvidence(l)}"`)
          .join(' … ');
        results.push(
          fail(
            id,
            `${name}: ${problems.length} of ${tail.length} lines: ${shown}`,
            `kubectl -n ${ns} logs ${name} -c ${container} --tail=${lines}; docs/runbook.md "Symptoms"`,
          ),
        );
      }
    }
  }
  return results;
}

/** A log line as evidence: Plane's JSON lines as level, logger and the message's first line; others cut. */
export function logEvidence(line: string): string {
  try {
    const record = JSON.parse(line) as { levelname?: string; name?: string; message?: string };
    if (record.levelname && record.message)
      return `${record.levelname} ${record.name ?? ''}: ${record.message.split('\n')[0]}`.slice(0, 200);
  } catch {
    /* not JSON */
  }
  return line.slice(0, 200);
}

async function checkBackup(ctx: OpsContext, maxAgeHours: number): Promise<CheckResult> {
  const cron = ctx.stack.maybeWorkload('CronJob', 'backup');
  if (!cron) return skip('backup', 'the site schedules no backup');
  const ns = ctx.stack.namespace;
  const live = await ctx.kube.maybe(() => ctx.kube.batch.readNamespacedCronJob({ name: cron.name, namespace: ns }));
  if (!live) return fail('backup', `CronJob ${cron.name} does not exist`, 'kubectl apply -f dist');
  const last = live.status?.lastSuccessfulTime ? new Date(live.status.lastSuccessfulTime) : undefined;
  const lastRun = live.status?.lastScheduleTime ? new Date(live.status.lastScheduleTime) : undefined;
  if (!last)
    return fail(
      'backup',
      `no successful backup yet${lastRun ? ` (last run scheduled ${lastRun.toISOString()})` : ''}`,
      'plane-k3s backup now',
    );
  const ageHours = (Date.now() - last.getTime()) / 3_600_000;
  const age = ageHours < 1 ? `${Math.round(ageHours * 60)} min` : `${ageHours.toFixed(1)} h`;
  const failedSince = lastRun && lastRun > last ? `; the run of ${lastRun.toISOString()} has not succeeded` : '';
  if (ageHours > maxAgeHours)
    return fail(
      'backup',
      `last successful backup ${age} ago (${last.toISOString()})${failedSince}`,
      `kubectl -n ${ns} get jobs -l app.kubernetes.io/name=backup; plane-k3s backup now`,
    );
  return pass('backup', `last successful backup ${age} ago (${last.toISOString()})${failedSince}`);
}

/** The drill proves the backups restore: its last success must be within its schedule's period + 1 day. */
async function checkDrill(ctx: OpsContext): Promise<CheckResult> {
  const cron = ctx.stack.maybeWorkload('CronJob', 'drill');
  if (!cron) return skip('backup/drill', 'the site schedules no restore drill');
  const ns = ctx.stack.namespace;
  const live = await ctx.kube.maybe(() => ctx.kube.batch.readNamespacedCronJob({ name: cron.name, namespace: ns }));
  if (!live) return fail('backup/drill', `CronJob ${cron.name} does not exist`, 'kubectl apply -f dist');
  const maxAgeMs = schedulePeriodMs(cron.schedule as string) + 24 * 3_600_000;
  const last = live.status?.lastSuccessfulTime ? new Date(live.status.lastSuccessfulTime) : undefined;
  const allowed = `(schedule "${cron.schedule}": at most ${Math.round(maxAgeMs / 3_600_000)} h)`;
  if (!last)
    return fail('backup/drill', `no restore drill has passed yet ${allowed}`, 'plane-k3s backup drill (after plane-k3s backup now)');
  const ageHours = (Date.now() - last.getTime()) / 3_600_000;
  const detail = `last passing drill ${ageHours < 1 ? `${Math.round(ageHours * 60)} min` : `${ageHours.toFixed(1)} h`} ago (${last.toISOString()}) ${allowed}`;
  if (Date.now() - last.getTime() > maxAgeMs)
    return fail(
      'backup/drill',
      detail,
      `kubectl -n ${ns} logs job -l app.kubernetes.io/name=drill --all-containers; plane-k3s backup drill`,
    );
  return pass('backup/drill', detail);
}

/** The longest gap between two runs of a five-field cron schedule (UTC), over its next year of runs at most. */
export function schedulePeriodMs(schedule: string): number {
  const runs = CronExpressionParser.parse(schedule, { tz: 'UTC', currentDate: new Date('2027-01-01T00:00:00Z') });
  let previous = runs.next().getTime();
  let longest = 0;
  for (let i = 0; i < 400; i++) {
    const next = runs.next().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
    if (next - Date.parse('2027-01-01T00:00:00Z') > 366 * 24 * 3_600_000) break;
  }
  return longest;
}

/** The seed's network checks, from the machine running the command (the operator's, on or off the VPN). */
async function checkFromHere(ctx: OpsContext, options: VerifyOptions): Promise<CheckResult[]> {
  const host = ctx.stack.appHost;
  if (!options.fromVpn && !options.fromOutside) {
    return [skip('network', 'not asked: --from-vpn on a VPN machine (200 and split DNS), --from-outside elsewhere (403)')];
  }
  const results: CheckResult[] = [];
  const status = await new Promise<number | string>((resolve) => {
    const request = https.get({ host, path: '/', timeout: 10_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve(error.message));
  });
  const want = options.fromVpn ? 200 : 403;
  const id = options.fromVpn ? 'network/vpn' : 'network/outside';
  if (status === want) results.push(pass(id, `https://${host}/ → ${status}`));
  else {
    results.push(
      fail(
        id,
        `https://${host}/ → ${status}, expected ${want}`,
        options.fromVpn
          ? 'on the VPN? check the split DNS answer below and edge.vpnAddress'
          : 'the edge answers outside the VPN: check edge.vpnEnforce and the vpn_only snippet',
      ),
    );
  }
  if (options.fromVpn) {
    const addresses = await dns
      .lookup(host, { all: true })
      .then((a) => a.map((x) => x.address))
      .catch(() => [] as string[]);
    const vpnAddress = ctx.stack.site.edge.vpnAddress;
    if (addresses.includes(vpnAddress)) results.push(pass('network/split-dns', `${host} → ${addresses.join(', ')}`));
    else
      results.push(
        fail(
          'network/split-dns',
          `${host} → ${addresses.join(', ') || 'no answer'}, expected ${vpnAddress}`,
          'the VPN resolver lacks the record: dns/ (Headscale extra records), docs/configuration.md "The edge"',
        ),
      );
  }
  return results;
}
