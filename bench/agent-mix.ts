/**
 * Benchmark (prints figures, asserts nothing): ten agents' traffic on Plane's api, open loop, at given
 * rates, against a backend the developer points it at; optionally the human's web UI beside it, or the
 * pacing experiment. See docs/capacity.md for how the table there was made.
 *
 *   npm run bench:agents -- --base-url http://127.0.0.1:58100 --tokens-file <file> [--workspace <slug>]
 *     [--rates 2,5,10] [--duration 60] [--schedule fixed|poisson] [--project BENCH --items 500]
 *     [--cgroup <dir>]... [--pid <pid>] [--ui-email <email>] [--pacing <strategy,...|all>] [--keep-created]
 *
 * Tokens: --tokens-file (one a line) or PLANE_BENCH_TOKENS (separated by spaces or commas); the UI's
 * password: PLANE_BENCH_UI_PASSWORD. Neither is ever printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { PlaneApi, PlaneApiError } from '../ops/plane-api';
import { SITE_CONFIG_ENV } from '../lib/synth';
import { Stack } from '../ops/stack';
import { CgroupMonitor, Monitor, ProcessTreeMonitor, Usage } from './load/api-monitor';
import { browse, HumanOptions } from './load/human';
import { AGENT_MIX, BenchProject, seededRandom } from './load/mix';
import { runOpenLoop, Schedule } from './load/open-loop';
import { PACING_STRATEGIES, PacingStrategy, runPacing } from './load/pacing';
import { removeCreated, seedProject } from './load/seed';
import { apiServing, describeApiServing } from './load/stack-api';
import { mib, ms, Outcome, percentile, share, summarize, table } from './load/stats';
import { UrlTransport } from './load/url-transport';
import { loadPage, listPageLoad, PageLoad, peekLoad, signedInUser, signIn, SignInError, workItemPageLoad } from './load/web-ui';

class BenchInputError extends Error {}

const TOKEN = /^plane_api_[0-9a-f]{32}$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function positive(value: string, option: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new BenchInputError(`${option} ${value}: expected a positive number`);
  return number;
}

/** The tokens, checked for Plane's format; a bad one is named by its place, never shown. */
export function readTokens(file: string | undefined, fromEnv: string | undefined): string[] {
  let tokens: string[];
  let where: (index: number) => string;
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new BenchInputError(`--tokens-file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    const lines = text.split('\n').map((line, index) => ({ line: line.trim(), index }));
    const kept = lines.filter((l) => l.line && !l.line.startsWith('#'));
    tokens = kept.map((l) => l.line);
    where = (index) => `line ${kept[index].index + 1} of ${file}`;
  } else if (fromEnv) {
    tokens = fromEnv.split(/[\s,]+/).filter(Boolean);
    where = (index) => `token ${index + 1} of PLANE_BENCH_TOKENS`;
  } else {
    throw new BenchInputError('no tokens: give --tokens-file <file> (one token a line) or PLANE_BENCH_TOKENS');
  }
  const bad = tokens.findIndex((t) => !TOKEN.test(t));
  if (bad >= 0) throw new BenchInputError(`${where(bad)} is not a Plane API token (plane_api_ followed by 32 hex digits)`);
  if (tokens.length === 0) throw new BenchInputError(`${file ?? 'PLANE_BENCH_TOKENS'} holds no token`);
  if (new Set(tokens).size !== tokens.length)
    throw new BenchInputError(`${file ?? 'PLANE_BENCH_TOKENS'} names a token twice: each agent needs its own`);
  return tokens;
}

export interface BenchOptions {
  readonly baseUrl: URL;
  readonly workspace: string;
  readonly tokens: string[];
  readonly rates: number[];
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly pauseMs: number;
  readonly schedule: Schedule;
  readonly project: string;
  readonly items: number;
  readonly seed: number;
  readonly cgroups: string[];
  readonly pid?: number;
  readonly uiEmail?: string;
  readonly uiPassword?: string;
  readonly uiThinkMs: number;
  readonly pacing?: string[];
  readonly byKind: boolean;
  readonly keepCreated: boolean;
}

export function parseOptions(args: string[], env: NodeJS.ProcessEnv, defaultWorkspace: string): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        'base-url': { type: 'string' },
        workspace: { type: 'string' },
        'tokens-file': { type: 'string' },
        agents: { type: 'string' },
        rates: { type: 'string', default: '2,5,10' },
        duration: { type: 'string', default: '60' },
        warmup: { type: 'string', default: '5' },
        pause: { type: 'string', default: '10' },
        schedule: { type: 'string', default: 'fixed' },
        project: { type: 'string', default: 'BENCH' },
        items: { type: 'string', default: '500' },
        seed: { type: 'string', default: '1' },
        cgroup: { type: 'string', multiple: true, default: [] },
        pid: { type: 'string' },
        'ui-email': { type: 'string' },
        'ui-think': { type: 'string', default: '5' },
        pacing: { type: 'string' },
        'by-kind': { type: 'boolean', default: false },
        'keep-created': { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new BenchInputError((error as Error).message);
  }
  const base = values['base-url'] ?? env.PLANE_BENCH_BASE_URL;
  if (!base) throw new BenchInputError('--base-url is missing: the api to load, e.g. http://127.0.0.1:8000 or https://work.example.org');
  let baseUrl: URL;
  try {
    baseUrl = new URL(base);
  } catch {
    throw new BenchInputError(`--base-url ${base}: not a URL`);
  }
  if (baseUrl.username || baseUrl.password)
    throw new BenchInputError('--base-url holds a user or password: give the tokens with --tokens-file instead');
  if (!['http:', 'https:'].includes(baseUrl.protocol)) throw new BenchInputError(`--base-url ${base}: expected http:// or https://`);
  let tokens = readTokens(values['tokens-file'], env.PLANE_BENCH_TOKENS);
  if (values.agents) {
    const agents = positive(values.agents, '--agents');
    if (!Number.isInteger(agents) || agents > tokens.length)
      throw new BenchInputError(`--agents ${values.agents}: expected a whole number up to the ${tokens.length} tokens given`);
    tokens = tokens.slice(0, agents);
  }
  const rates = values.rates.split(',').map((r) => positive(r.trim(), '--rates'));
  if (values.schedule !== 'fixed' && values.schedule !== 'poisson')
    throw new BenchInputError(`--schedule ${values.schedule}: expected fixed or poisson`);
  if (!/^[A-Z][A-Z0-9]{1,11}$/.test(values.project))
    throw new BenchInputError(`--project ${values.project}: expected a Plane project identifier (2-12 capitals and digits)`);
  const pid = values.pid === undefined ? undefined : positive(values.pid, '--pid');
  const uiEmail = values['ui-email'];
  const uiPassword = env.PLANE_BENCH_UI_PASSWORD;
  if (uiEmail && !uiPassword) throw new BenchInputError('--ui-email needs the password in PLANE_BENCH_UI_PASSWORD');
  let pacing: string[] | undefined;
  if (values.pacing) {
    pacing = values.pacing === 'all' ? PACING_STRATEGIES.map((s) => s.name) : values.pacing.split(',').map((s) => s.trim());
    const unknown = pacing.filter((name) => !PACING_STRATEGIES.some((s) => s.name === name));
    if (unknown.length)
      throw new BenchInputError(
        `--pacing ${unknown.join(',')}: unknown; the strategies are ${PACING_STRATEGIES.map((s) => s.name).join(', ')}, or all`,
      );
    if (tokens.length < pacing.length)
      throw new BenchInputError(`--pacing: ${pacing.length} strategies need at least as many tokens (${tokens.length} given)`);
  }
  return {
    baseUrl,
    workspace: values.workspace ?? defaultWorkspace,
    tokens,
    rates,
    durationMs: positive(values.duration, '--duration') * 1000,
    warmupMs: Number(values.warmup) * 1000,
    pauseMs: Number(values.pause) * 1000,
    schedule: values.schedule,
    project: values.project,
    items: positive(values.items, '--items'),
    seed: positive(values.seed, '--seed'),
    cgroups: values.cgroup,
    pid,
    uiEmail,
    uiPassword,
    uiThinkMs: Number(values['ui-think']) * 1000,
    pacing,
    byKind: values['by-kind'],
    keepCreated: values['keep-created'],
  };
}

function machine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout: the commit stays unknown
  }
  return `${new Date().toISOString()}, ${os.hostname()}: ${cpus.length} CPUs (${cpus[0]?.model ?? 'unknown'}), load ${load}; node ${process.version}; commit ${commit}`;
}

function usageCells(usage: Usage | undefined): string[] {
  if (!usage) return ['-', '-', '-', '-'];
  const cpu = usage.cpuSeconds === undefined ? '-' : `${(usage.cpuSeconds / usage.seconds).toFixed(2)}`;
  const throttled = usage.periods ? share(usage.throttledPeriods ?? 0, usage.periods) : '-';
  return [mib(usage.peakBytes), mib(usage.peakRssBytes), cpu, throttled];
}

const HEADER = 'run|sent/s|answered/s|p50|p95|p99|max|5xx|429|429 share|other 4xx|errors|peak mem|peak rss|cpu|throttled|load'.split('|');

function row(label: string, outcomes: Outcome[], sent: number, answered: number, usage: Usage | undefined): string[] {
  const s = summarize(outcomes);
  return [
    label,
    sent.toFixed(2),
    answered.toFixed(2),
    ms(s.p50),
    ms(s.p95),
    ms(s.p99),
    ms(s.max),
    String(s.status5xx),
    String(s.status429),
    share(s.status429, s.calls),
    String(s.status4xx),
    String(s.errors),
    ...usageCells(usage),
    // The machine's 1-minute load as the run ends: on a shared machine, the api's CPU is not all its own.
    os.loadavg()[0].toFixed(1),
  ];
}

function byKind(outcomes: Outcome[]): string {
  const rows = [['kind', 'calls', 'p50', 'p95', 'p99', '429', '5xx']];
  for (const kind of AGENT_MIX.map((k) => k.kind)) {
    const mine = outcomes.filter((o) => o.kind === kind);
    const s = summarize(mine);
    rows.push([kind, String(s.calls), ms(s.p50), ms(s.p95), ms(s.p99), String(s.status429), String(s.status5xx)]);
  }
  return table(rows);
}

function pageRows(loads: PageLoad[]): string[][] {
  const names = [...new Set(loads.map((l) => l.page))];
  return names.map((name) => {
    const mine = loads.filter((l) => l.page === name);
    const times = mine.map((l) => l.ms);
    const failed = mine.flatMap((l) => l.failed);
    return [
      name,
      String(mine.length),
      String(mine[0].requests),
      ms(percentile(times, 50)),
      ms(percentile(times, 95)),
      ms(Math.max(...times)),
      failed.length ? failed.slice(0, 3).join(' ') : '0',
    ];
  });
}

const PAGE_HEADER = ['page', 'loads', 'requests', 'p50', 'p95', 'max', 'failed'];

/** What every run shares: where it sends, what it watches, how it prints. */
interface Bench {
  readonly options: BenchOptions;
  readonly api: PlaneApi;
  readonly transport: UrlTransport;
  readonly project: BenchProject;
  readonly monitor?: Monitor;
  readonly random: () => number;
  readonly log: (line: string) => void;
}

async function pacingExperiment(bench: Bench, names: readonly string[]): Promise<void> {
  const { options, api, project, monitor, random, log } = bench;
  const strategies = names.map((name) => PACING_STRATEGIES.find((s) => s.name === name) as PacingStrategy);
  const each = Math.floor(options.tokens.length / strategies.length);
  log(
    `\npacing: ${strategies.length} strategies side by side, ${each} agents each, ${options.durationMs / 1000} s, load before: ${os.loadavg()[0].toFixed(2)}`,
  );
  monitor?.start();
  const results = await runPacing(api, options.tokens, project, strategies, each, options.durationMs, random);
  const usage = monitor?.stop();
  const rows = [
    ['strategy', 'agents', 'wanted', 'sent', '429', '429 share', 'lost', 'done/min/agent', 'delay p50', 'delay p95', 'served p95', '5xx'],
  ];
  for (const r of results) {
    const s = summarize(r.outcomes);
    rows.push([
      r.strategy.name,
      String(r.agents),
      String(r.wanted),
      String(r.sent),
      String(r.status429),
      share(r.status429, r.sent),
      String(r.wanted - r.done),
      (r.done / r.agents / (options.durationMs / 60_000)).toFixed(1),
      ms(r.delayP50Ms),
      ms(r.delayP95Ms),
      ms(s.p95),
      String(s.status5xx),
    ]);
  }
  log(table(rows));
  for (const s of strategies) log(`  ${s.name}: ${s.what}`);
  if (usage) log(table([HEADER.slice(-5, -1), usageCells(usage)]));
}

/** The human's pages on an idle api, three times each: the reference for the loads beside the agents. */
async function idlePages(bench: Bench, cookie: string): Promise<void> {
  const { options, transport, project, log } = bench;
  const [item] = project.workItems;
  const loads: PageLoad[] = [];
  for (const page of [
    listPageLoad(options.workspace, project),
    peekLoad(options.workspace, project, item.id),
    workItemPageLoad(options.workspace, project, item),
  ])
    for (let i = 0; i < 3; i++) loads.push(await loadPage(transport, cookie, page));
  log('\nthe human alone (idle api, each page 3 times)');
  log(table([PAGE_HEADER, ...pageRows(loads)]));
}

async function rates(bench: Bench, cookie: string | undefined): Promise<void> {
  const { options, api, transport, project, monitor, random, log } = bench;
  const load = (requestsPerSecond: number, durationMs: number) =>
    runOpenLoop({ api, tokens: options.tokens, project, requestsPerSecond, durationMs, schedule: options.schedule, random });
  if (options.warmupMs > 0) {
    log(`\nwarm-up: ${options.warmupMs / 1000} s at ${options.rates[0]} requests/s (not counted)`);
    await load(options.rates[0], options.warmupMs);
  }
  const rows = [HEADER];
  const seconds = options.durationMs / 1000;
  const measure = async (label: string, rate: number, human?: HumanOptions) => {
    await sleep(options.pauseMs);
    log(
      `\n${label}: ${seconds} s, ${options.schedule} schedule, ${((60 * rate) / options.tokens.length).toFixed(1)}/min per agent, load before: ${os.loadavg()[0].toFixed(2)}`,
    );
    let stopped = false;
    monitor?.start();
    const browsing = human ? browse(human, () => stopped) : Promise.resolve([]);
    const result = await load(rate, options.durationMs);
    stopped = true;
    const loads = await browsing;
    const usage = monitor?.stop();
    rows.push(row(label, result.outcomes, result.sentPerSecond, result.answeredPerSecond, usage));
    log(table([HEADER, rows[rows.length - 1]]));
    if (result.lateP99Ms > 50) log(`  the client sent its calls up to ${Math.round(result.lateP99Ms)} ms late (p99): it was short of CPU`);
    if (options.byKind) log(byKind(result.outcomes));
    if (human) {
      const requests = loads.reduce((n, l) => n + l.requests, 0);
      log(
        `the human's pages (a page every ${options.uiThinkMs / 1000} s; ${requests} requests, ${(requests / seconds).toFixed(2)}/s on average):`,
      );
      log(table([PAGE_HEADER, ...pageRows(loads)]));
    }
  };
  for (const rate of options.rates) {
    await measure(`${rate}/s`, rate);
    if (cookie)
      await measure(`${rate}/s + human`, rate, {
        transport,
        cookie,
        workspace: options.workspace,
        project,
        thinkMs: options.uiThinkMs,
        random,
      });
  }
  log(
    `\nsummary (latency over answers other than 429 and 5xx; "cpu": CPUs the api used on average; "throttled": CFS periods throttled; "load": the machine's 1-minute load at the end)`,
  );
  log(table(rows));
}

async function main(): Promise<void> {
  const stack = Stack.load(process.env[SITE_CONFIG_ENV] || undefined);
  const options = parseOptions(process.argv.slice(2), process.env, stack.users.workspace.slug);
  const monitor: Monitor | undefined = options.cgroups.length
    ? new CgroupMonitor(options.cgroups)
    : options.pid
      ? new ProcessTreeMonitor(options.pid)
      : undefined;
  const transport = new UrlTransport(options.baseUrl);
  const api = new PlaneApi(transport, transport.host, options.workspace);
  const random = seededRandom(options.seed);
  const log = (line: string) => console.log(line);
  const detail = (line: string) => log(`  ${line}`);

  log(`agent mix on ${options.baseUrl.origin}, workspace ${options.workspace}, ${options.tokens.length} agents`);
  detail(machine());
  detail(`the stack's api (site file, synthesized): ${describeApiServing(apiServing(stack))}`);
  detail(`the api under test: ${monitor ? monitor.describe() : 'not watched (give --cgroup or --pid for its memory and CPU)'}`);
  detail(`mix: ${AGENT_MIX.map((k) => `${k.weight} % ${k.what}`).join(', ')}`);

  // The person whose web UI is replayed signs in first: the bench's project makes them one of its admins.
  let human: { cookie: string; id: string } | undefined;
  if (options.uiEmail && options.uiPassword) {
    const cookie = await signIn(transport, options.uiEmail, options.uiPassword);
    human = { cookie, id: (await signedInUser(transport, cookie)).id };
    detail(`signed in to the web app's API as ${options.uiEmail}`);
  }
  const project = await seedProject(api, options.tokens, {
    identifier: options.project,
    items: options.items,
    random,
    log: detail,
    admins: human ? [human.id] : [],
  });
  detail(`project ${project.identifier}: ${project.workItems.length} work items, ${project.stateIds.length} states`);

  const bench: Bench = { options, api, transport, project, monitor, random, log };
  try {
    if (options.pacing) {
      await pacingExperiment(bench, options.pacing);
    } else {
      if (human) await idlePages(bench, human.cookie);
      await rates(bench, human?.cookie);
    }
    log(`  load after: ${os.loadavg()[0].toFixed(2)}; client reconnects: ${transport.reconnects}`);
  } finally {
    if (!options.keepCreated && project.created.length) {
      // The figures are printed by now: a failed clean-up is reported, not fatal.
      const count = project.created.length;
      await removeCreated(api, project).then(
        () => detail(`deleted the ${count} work items the runs created`),
        (error: Error) =>
          detail(`could not delete the work items the runs created (${error.message}): project ${project.identifier} keeps some of them`),
      );
    }
    transport.close();
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    // One line, never a stack trace: bad options, a refused sign-in or token, an api that does not answer.
    const input = error instanceof BenchInputError || error instanceof SignInError || error.name === 'SiteConfigError';
    const hint = error instanceof PlaneApiError ? ' (are the tokens members of the workspace, and is it the right --base-url?)' : '';
    console.error(`bench:agents: ${error.message}${hint}`);
    process.exit(input ? 2 : 1);
  });
}
