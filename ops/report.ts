/**
 * What every command reports: checks or steps that pass, fail with the evidence and the fix, or are
 * skipped with the reason. Text for people, `--json` for machines; the exit code is 1 when any failed.
 * Everything shown goes through a Redactor that knows every secret value the command has read.
 */
import { Listr, ListrLogger, ListrTask, ProcessOutput } from 'listr2';

/** `warn`: something to act on soon (a token near its expiry), which does not fail the command. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable identifier, e.g. `workload/plane-api` (for --json consumers and tests). */
  readonly id: string;
  readonly status: CheckStatus;
  /** What was seen (pass, warn, fail) or why it was not checked (skip). Never a secret value. */
  readonly detail: string;
  /** What to do about a failure or a warning. */
  readonly fix?: string;
}

export interface Report {
  readonly command: string;
  readonly context: string;
  readonly ok: boolean;
  readonly summary: Readonly<Record<CheckStatus, number>>;
  readonly checks: readonly CheckResult[];
}

export const pass = (id: string, detail: string): CheckResult => ({ id, status: 'pass', detail });
export const fail = (id: string, detail: string, fix: string): CheckResult => ({ id, status: 'fail', detail, fix });
export const skip = (id: string, reason: string): CheckResult => ({ id, status: 'skip', detail: reason });
export const warn = (id: string, detail: string, fix: string): CheckResult => ({ id, status: 'warn', detail, fix });

/** Plane's token shape, masked even when the value was not read by this process (e.g. in a log line). */
const TOKEN_PATTERN = /plane_api_[0-9a-f]{8,}/g;

/** Replaces every secret value it was told about (and anything shaped like a Plane token) with `<secret>`. */
export class Redactor {
  private readonly values = new Set<string>();

  add(value: string | undefined): void {
    // Short values (a port, "plane") would mask ordinary words; every generated value is ≥ 24 characters.
    if (value && value.length >= 8) this.values.add(value);
  }

  apply(text: string): string {
    let out = text.replace(TOKEN_PATTERN, 'plane_api_<secret>');
    for (const value of [...this.values].sort((a, b) => b.length - a.length)) out = out.split(value).join('<secret>');
    return out;
  }
}

export function makeReport(command: string, context: string, checks: readonly CheckResult[], redactor: Redactor): Report {
  const safe = checks.map((c) => ({ ...c, detail: redactor.apply(c.detail), ...(c.fix ? { fix: redactor.apply(c.fix) } : {}) }));
  const summary = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const check of safe) summary[check.status] += 1;
  return { command, context, ok: summary.fail === 0, summary, checks: safe };
}

const MARK: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

export function renderReport(report: Report): string {
  const width = Math.min(34, Math.max(...report.checks.map((c) => c.id.length), 10));
  const lines = report.checks.flatMap((check) => [
    `${MARK[check.status]}  ${check.id.padEnd(width)}  ${check.detail}`,
    ...(check.fix ? [`${' '.repeat(6 + width)}  fix: ${check.fix}`] : []),
  ]);
  const { pass: passed, warn: warned, fail: failed, skip: skipped } = report.summary;
  const warnings = warned ? `, ${warned} warning${warned === 1 ? '' : 's'}` : '';
  lines.push(`${report.command} (context ${report.context}): ${passed} passed${warnings}, ${failed} failed, ${skipped} skipped`);
  return `${lines.join('\n')}\n`;
}

export interface OutputOptions {
  readonly json: boolean;
}

/** Writes the report (stdout) and returns the exit code. */
export function emit(report: Report, options: OutputOptions): number {
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  return report.ok ? 0 : 1;
}

/** Thrown by a step that cannot run because an earlier one failed: reported as skipped, with the reason. */
export class Skipped extends Error {}

export interface Step {
  readonly title: string;
  /** Runs the step (`progress` updates its line on a terminal); a throw is turned into a failure of `id`. */
  readonly run: (progress: (message: string) => void) => Promise<CheckResult[]>;
  /** The id its failure is reported under when it throws. */
  readonly id: string;
  readonly fix?: string;
}

/**
 * Runs steps one after the other with progress on stderr (a spinner on a terminal, one line per step
 * otherwise, nothing with --json), and returns every result. A step that throws fails with its message.
 */
export async function runSteps(steps: readonly Step[], options: OutputOptions, redactor: Redactor): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });
  const tasks: ListrTask[] = steps.map((step) => ({
    title: step.title,
    task: async (_ctx, task) => {
      let found: CheckResult[];
      try {
        found = await step.run((message) => {
          task.output = redactor.apply(message);
        });
      } catch (error) {
        const message = redactor.apply((error instanceof Error ? error.message : String(error)).split('\n')[0]);
        found = [
          error instanceof Skipped ? skip(step.id, message) : fail(step.id, message, step.fix ?? 'see the runbook (docs/runbook.md)'),
        ];
      }
      results.push(...found);
      const failed = found.filter((r) => r.status === 'fail').length;
      const warned = found.filter((r) => r.status === 'warn').length;
      task.title = `${step.title}: ${failed ? `${failed} failed` : warned ? `${warned} to act on` : found.every((r) => r.status === 'skip') ? 'skipped' : 'ok'}`;
    },
  }));
  await new Listr(tasks, {
    concurrent: false,
    exitOnError: false,
    collectErrors: false,
    silentRendererCondition: options.json,
    fallbackRendererCondition: !process.stderr.isTTY,
    // Progress on stderr: stdout carries the report alone.
    rendererOptions: { collapseSubtasks: false, logger },
    fallbackRendererOptions: { logger },
  }).run();
  return results;
}
