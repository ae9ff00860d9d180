/**
 * How an agent's way of pacing itself meets Plane's rate limit (a sliding 60 s window per token, counted
 * when each call reaches the api): several strategies side by side, each on its own tokens, each agent
 * one call at a time as an agent's client makes them, with the calls of the agent mix.
 */
import { PlaneApi } from '../../ops/plane-api';
import { BenchProject, drawCall } from './mix';
import { timedCall } from './open-loop';
import { Outcome, percentile } from './stats';

export interface PacingStrategy {
  readonly name: string;
  readonly what: string;
  /** The calls the agent wants to make, per minute. */
  readonly perMinute: number;
  readonly arrivals: 'fixed' | 'poisson';
  /** Never two calls closer than 60/this seconds (a token bucket of burst 1). @default no spacing */
  readonly spacingPerMinute?: number;
  /** On 429: wait exactly Retry-After, then send the same call again; otherwise the call is lost. */
  readonly honoursRetryAfter: boolean;
}

export const PACING_STRATEGIES: readonly PacingStrategy[] = [
  { name: 'exact-30', what: 'every 2.000 s: 30/min, the limit itself', perMinute: 30, arrivals: 'fixed', honoursRetryAfter: false },
  { name: 'fixed-28', what: 'every 2.143 s: 28/min', perMinute: 28, arrivals: 'fixed', honoursRetryAfter: false },
  { name: 'fixed-25', what: 'every 2.400 s: 25/min', perMinute: 25, arrivals: 'fixed', honoursRetryAfter: false },
  {
    name: 'bursty-25',
    what: '25/min on average, at random moments (Poisson)',
    perMinute: 25,
    arrivals: 'poisson',
    honoursRetryAfter: false,
  },
  {
    // Spaced at the demand's own rate the queue would grow without end (a server busy 100 % of the time).
    name: 'bursty-25-spaced',
    what: 'the same, no two calls closer than 2.143 s (a token bucket of 28/min, burst 1)',
    perMinute: 25,
    arrivals: 'poisson',
    spacingPerMinute: 28,
    honoursRetryAfter: false,
  },
  {
    name: 'exact-30-retry',
    what: 'every 2.000 s; on 429 waits exactly Retry-After and sends again',
    perMinute: 30,
    arrivals: 'fixed',
    honoursRetryAfter: true,
  },
];

export interface PacingResult {
  readonly strategy: PacingStrategy;
  readonly agents: number;
  /** Calls sent, retries included. */
  readonly sent: number;
  readonly status429: number;
  /** Calls the agent wanted, and those that got an answer other than 429. */
  readonly wanted: number;
  readonly done: number;
  /** From when a call was wanted to its (last) answer: what pacing and Retry-After cost the agent. */
  readonly delayP50Ms: number;
  readonly delayP95Ms: number;
  readonly outcomes: Outcome[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function runAgent(
  api: PlaneApi,
  token: string,
  project: BenchProject,
  strategy: PacingStrategy,
  durationMs: number,
  random: () => number,
): Promise<Omit<PacingResult, 'strategy' | 'agents' | 'delayP50Ms' | 'delayP95Ms'> & { delays: number[] }> {
  const intervalMs = 60_000 / strategy.perMinute;
  const gap = () => (strategy.arrivals === 'fixed' ? intervalMs : -Math.log(1 - random()) * intervalMs);
  const start = performance.now();
  const end = start + durationMs;
  const outcomes: Outcome[] = [];
  const delays: number[] = [];
  let wanted = 0;
  let done = 0;
  let earliestNext = 0;
  for (let due = start + random() * intervalMs; due < end; due += gap()) {
    wanted++;
    const call = drawCall(api, project, random);
    for (;;) {
      await sleep(Math.max(due, earliestNext) - performance.now());
      const sentAt = performance.now();
      if (strategy.spacingPerMinute) earliestNext = sentAt + 60_000 / strategy.spacingPerMinute;
      const outcome = await timedCall(api, token, call, sentAt, project);
      outcomes.push(outcome);
      if (outcome.status === 429 && strategy.honoursRetryAfter) {
        earliestNext = Math.max(earliestNext, performance.now() + (outcome.retryAfter ?? 1) * 1000);
        continue;
      }
      if (outcome.status !== 429) {
        done++;
        delays.push(performance.now() - due);
      }
      break;
    }
  }
  return { sent: outcomes.length, status429: outcomes.filter((o) => o.status === 429).length, wanted, done, outcomes, delays };
}

/** Runs the strategies side by side for `durationMs`, `agentsEach` tokens each (in the order given). */
export async function runPacing(
  api: PlaneApi,
  tokens: readonly string[],
  project: BenchProject,
  strategies: readonly PacingStrategy[],
  agentsEach: number,
  durationMs: number,
  random: () => number,
): Promise<PacingResult[]> {
  return Promise.all(
    strategies.map(async (strategy, s) => {
      const own = tokens.slice(s * agentsEach, (s + 1) * agentsEach);
      const runs = await Promise.all(own.map((token) => runAgent(api, token, project, strategy, durationMs, random)));
      const delays = runs.flatMap((r) => r.delays);
      return {
        strategy,
        agents: own.length,
        sent: runs.reduce((n, r) => n + r.sent, 0),
        status429: runs.reduce((n, r) => n + r.status429, 0),
        wanted: runs.reduce((n, r) => n + r.wanted, 0),
        done: runs.reduce((n, r) => n + r.done, 0),
        delayP50Ms: percentile(delays, 50),
        delayP95Ms: percentile(delays, 95),
        outcomes: runs.flatMap((r) => r.outcomes),
      };
    }),
  );
}
