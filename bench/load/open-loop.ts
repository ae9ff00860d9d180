/**
 * An open-loop load: each agent sends its calls when they are due, whether or not its earlier calls
 * have been answered (a slow api gets more concurrent calls, never fewer calls), so the rate asked is
 * the rate sent. The rate is spread evenly over the agents' tokens; each agent's calls come at a fixed
 * interval from a random phase (`fixed`: together an even stream, each token paced at rate/agents),
 * or at exponential gaps (`poisson`: bursts, as agents that think and then act).
 */
import { PlaneApi } from '../../ops/plane-api';
import { BenchProject, Call, drawCall } from './mix';
import { Outcome } from './stats';

export type Schedule = 'fixed' | 'poisson';

export interface LoadOptions {
  readonly api: PlaneApi;
  readonly tokens: readonly string[];
  readonly project: BenchProject;
  readonly requestsPerSecond: number;
  readonly durationMs: number;
  readonly schedule: Schedule;
  readonly random: () => number;
}

export interface LoadResult {
  readonly outcomes: Outcome[];
  /** Calls sent per second over the run. */
  readonly sentPerSecond: number;
  /** Answers (of any status; not the calls that got none) per second, from the first call to the last answer. */
  readonly answeredPerSecond: number;
  /** How late the client sent its calls (p99, ms): more than a few ms means the client itself was short of CPU. */
  readonly lateP99Ms: number;
}

const sleepUntil = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

/** Sends one call and records its outcome, timed from when it was due; a created work item joins the project. */
export async function timedCall(
  api: PlaneApi,
  token: string,
  call: Call,
  dueAt: number,
  project?: BenchProject,
): Promise<Outcome & { retryAfter?: number }> {
  try {
    const response = await api.request(call.method, call.path, token, call.body);
    const outcome = { kind: call.kind, status: response.status, ms: performance.now() - dueAt };
    if (response.status === 201 && call.kind === 'create' && project) {
      const created = JSON.parse(response.body) as { id: string; sequence_id: number };
      project.workItems.push({ id: created.id, sequenceId: created.sequence_id });
      project.created.push({ id: created.id, token });
    }
    const retryAfter = Number(response.headers['retry-after']);
    return Number.isFinite(retryAfter) ? { ...outcome, retryAfter } : outcome;
  } catch {
    return { kind: call.kind, status: 0, ms: performance.now() - dueAt };
  }
}

export async function runOpenLoop(options: LoadOptions): Promise<LoadResult> {
  const { api, tokens, project, random } = options;
  const perAgent = options.requestsPerSecond / tokens.length;
  const gapMs = () => (options.schedule === 'fixed' ? 1000 / perAgent : (-Math.log(1 - random()) * 1000) / perAgent);
  const start = performance.now();
  const end = start + options.durationMs;
  const outcomes: Outcome[] = [];
  const late: number[] = [];
  const inFlight: Promise<void>[] = [];
  let lastAnswer = start;

  await Promise.all(
    tokens.map(async (token) => {
      let due = start + (options.schedule === 'fixed' ? random() * (1000 / perAgent) : gapMs());
      while (due < end) {
        await sleepUntil(due);
        late.push(performance.now() - due);
        const call = drawCall(api, project, random);
        inFlight.push(
          timedCall(api, token, call, due, project).then((outcome) => {
            outcomes.push(outcome);
            lastAnswer = performance.now();
          }),
        );
        due += gapMs();
      }
    }),
  );
  await Promise.all(inFlight);
  late.sort((a, b) => a - b);
  return {
    outcomes,
    sentPerSecond: inFlight.length / (options.durationMs / 1000),
    answeredPerSecond: outcomes.filter((o) => o.status > 0).length / ((lastAnswer - start) / 1000),
    lateP99Ms: late.length ? late[Math.min(late.length - 1, Math.floor(late.length * 0.99))] : 0,
  };
}
