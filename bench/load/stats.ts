/** Figures of a run: latency percentiles and counts by outcome. */

/** The p-th percentile (0–100) of `samples`, nearest rank; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** One call's outcome: its status (0 for a network error or a timeout) and its time in ms. */
export interface Outcome {
  readonly kind: string;
  readonly status: number;
  /** From the time it was due (open loop: the client's own lateness counts) to the answer's end. */
  readonly ms: number;
}

export interface Summary {
  readonly calls: number;
  /** Answered with anything but 429 or 5xx: the latency figures are over these. */
  readonly served: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly status5xx: number;
  readonly status429: number;
  /** Other 4xx: the bench's own mistakes (a wrong route, a deleted item), worth a look when not 0. */
  readonly status4xx: number;
  readonly errors: number;
}

export function summarize(outcomes: readonly Outcome[]): Summary {
  const served = outcomes.filter((o) => o.status > 0 && o.status !== 429 && o.status < 500).map((o) => o.ms);
  return {
    calls: outcomes.length,
    served: served.length,
    p50: percentile(served, 50),
    p95: percentile(served, 95),
    p99: percentile(served, 99),
    max: served.length ? Math.max(...served) : NaN,
    status5xx: outcomes.filter((o) => o.status >= 500).length,
    status429: outcomes.filter((o) => o.status === 429).length,
    status4xx: outcomes.filter((o) => o.status >= 400 && o.status < 500 && o.status !== 429).length,
    errors: outcomes.filter((o) => o.status === 0).length,
  };
}

export const ms = (value: number): string => (Number.isNaN(value) ? '-' : `${Math.round(value)} ms`);
export const share = (part: number, whole: number): string => (whole ? `${((100 * part) / whole).toFixed(1)} %` : '-');
export const mib = (bytes: number | undefined): string => (bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(0)} MiB`);

/** Rows as aligned columns (the first row is the header). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  '))
    .join('\n');
}
