/**
 * What the api under test uses during a run, read where the developer says it runs: its cgroups
 * (v1: one directory per controller, e.g. /sys/fs/cgroup/memory/<name> and /sys/fs/cgroup/cpu/<name>;
 * v2: its one directory), or a process whose tree's RSS is sampled. Peak memory, CPU time, throttling.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const SAMPLE_MS = 200;

export interface Usage {
  /** From start() to stop(): the run and the wait for its last answers. */
  readonly seconds: number;
  /** Highest memory charged to the cgroup (page cache included), or the tree's highest RSS. */
  readonly peakBytes?: number;
  /** Highest anonymous memory (RSS) of the cgroup or tree: what cannot be reclaimed. */
  readonly peakRssBytes?: number;
  readonly cpuSeconds?: number;
  /** CFS periods in which the cgroup was throttled, of those it ran in. */
  readonly throttledPeriods?: number;
  readonly periods?: number;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number | undefined {
  const text = readText(file);
  return text === undefined || !/^\d+$/.test(text) ? undefined : Number(text);
}

function statOf(file: string): Record<string, number> {
  const entries = (readText(file) ?? '').split('\n').map((line) => line.split(/\s+/));
  return Object.fromEntries(entries.filter((e) => e.length === 2).map(([key, value]) => [key, Number(value)]));
}

/** The first directory of `dirs` that has `file`. */
function withFile(dirs: readonly string[], file: string): string | undefined {
  const dir = dirs.find((d) => fs.existsSync(path.join(d, file)));
  return dir && path.join(dir, file);
}

export interface Monitor {
  /** One line: what is watched and its limits, e.g. "cgroup v1 plane-bench: 1.00 CPU, memory limit 1024 MiB, 3 processes". */
  describe(): string;
  start(): void;
  stop(): Usage;
}

/** A cgroup (v1: its directories under several controllers; v2: one directory). */
export class CgroupMonitor implements Monitor {
  private sampler?: NodeJS.Timeout;
  private peak = 0;
  private peakRss = 0;
  private peakCounterReset = false;
  private cpuStart?: number;
  private throttleStart?: Record<string, number>;
  private startedAt = 0;

  constructor(private readonly dirs: readonly string[]) {
    for (const dir of dirs)
      if (!fs.existsSync(path.join(dir, 'cgroup.procs'))) throw new Error(`--cgroup ${dir}: not a cgroup directory (no cgroup.procs)`);
  }

  private file(name: string): string | undefined {
    return withFile(this.dirs, name);
  }

  private get v2(): boolean {
    return this.file('memory.current') !== undefined || this.file('cpu.max') !== undefined;
  }

  describe(): string {
    const parts: string[] = [];
    const quota = this.cpuQuota();
    if (quota !== undefined) parts.push(Number.isFinite(quota) ? `${quota.toFixed(2)} CPU` : 'no CPU quota');
    const limit = readNumber(this.file('memory.limit_in_bytes') ?? this.file('memory.max') ?? '');
    if (limit !== undefined) parts.push(limit > 2 ** 60 ? 'no memory limit' : `memory limit ${Math.round(limit / 1048576)} MiB`);
    const procs = readText(this.file('cgroup.procs') ?? '');
    if (procs !== undefined) parts.push(`${procs.split('\n').filter(Boolean).length} processes`);
    return `cgroup ${this.v2 ? 'v2' : 'v1'} ${path.basename(this.dirs[0])}: ${parts.join(', ')}`;
  }

  /** CPUs the quota allows (Infinity without one); undefined when no cpu controller was given. */
  cpuQuota(): number | undefined {
    const v1Quota = this.file('cpu.cfs_quota_us');
    if (v1Quota) {
      const quota = Number(readText(v1Quota));
      const period = readNumber(this.file('cpu.cfs_period_us') ?? '') ?? 100000;
      return quota < 0 ? Infinity : quota / period;
    }
    const max = readText(this.file('cpu.max') ?? '');
    if (!max) return undefined;
    const [quota, period] = max.split(/\s+/);
    return quota === 'max' ? Infinity : Number(quota) / Number(period);
  }

  /** The cgroup's memory limit in bytes (undefined without one or without a memory controller). */
  memoryLimit(): number | undefined {
    const limit = readNumber(this.file('memory.limit_in_bytes') ?? this.file('memory.max') ?? '');
    return limit === undefined || limit > 2 ** 60 ? undefined : limit;
  }

  private cpuNanoseconds(): number | undefined {
    const v1 = readNumber(this.file('cpuacct.usage') ?? '');
    if (v1 !== undefined) return v1;
    const usage = statOf(this.file('cpu.stat') ?? '').usage_usec;
    return usage === undefined ? undefined : usage * 1000;
  }

  private sample(): void {
    const usage = readNumber(this.file('memory.usage_in_bytes') ?? this.file('memory.current') ?? '');
    if (usage !== undefined) this.peak = Math.max(this.peak, usage);
    const stat = statOf(this.file('memory.stat') ?? '');
    const rss = stat.total_rss ?? stat.anon;
    if (rss !== undefined) this.peakRss = Math.max(this.peakRss, rss);
  }

  start(): void {
    // cgroup v1 keeps its own high-water mark, which a write of 0 resets (as root): exact, not sampled.
    const highWater = this.file('memory.max_usage_in_bytes');
    try {
      if (highWater) fs.writeFileSync(highWater, '0');
      this.peakCounterReset = highWater !== undefined;
    } catch {
      this.peakCounterReset = false;
    }
    this.peak = 0;
    this.peakRss = 0;
    this.startedAt = performance.now();
    this.cpuStart = this.cpuNanoseconds();
    this.throttleStart = statOf(this.file('cpu.stat') ?? '');
    this.sample();
    this.sampler = setInterval(() => this.sample(), SAMPLE_MS);
  }

  stop(): Usage {
    clearInterval(this.sampler);
    this.sample();
    const highWater = this.peakCounterReset ? readNumber(this.file('memory.max_usage_in_bytes') ?? '') : undefined;
    const cpuEnd = this.cpuNanoseconds();
    const throttle = statOf(this.file('cpu.stat') ?? '');
    const delta = (key: string) => (throttle[key] === undefined ? undefined : throttle[key] - (this.throttleStart?.[key] ?? 0));
    return {
      seconds: (performance.now() - this.startedAt) / 1000,
      peakBytes: Math.max(this.peak, highWater ?? 0) || undefined,
      peakRssBytes: this.peakRss || undefined,
      cpuSeconds: cpuEnd === undefined || this.cpuStart === undefined ? undefined : (cpuEnd - this.cpuStart) / 1e9,
      throttledPeriods: delta('nr_throttled'),
      periods: delta('nr_periods'),
    };
  }
}

const PAGE_SIZE = 4096;
const CLOCK_TICKS = 100;

interface ProcessStat {
  readonly pid: number;
  readonly ppid: number;
  readonly ticks: number;
  readonly rssBytes: number;
}

function processStat(pid: number): ProcessStat | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (!text) return undefined;
  // The command may hold spaces and parentheses: fields start after its last ")".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), rssBytes: Number(fields[21]) * PAGE_SIZE };
}

/** A process and its descendants (e.g. a gunicorn master and its workers), from /proc. */
export class ProcessTreeMonitor implements Monitor {
  private sampler?: NodeJS.Timeout;
  private peak = 0;
  private ticksStart = new Map<number, number>();
  private ticksLast = new Map<number, number>();
  private startedAt = 0;

  constructor(private readonly pid: number) {
    if (!processStat(pid)) throw new Error(`--pid ${pid}: no such process`);
  }

  private tree(): ProcessStat[] {
    const all = fs
      .readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map((entry) => processStat(Number(entry)))
      .filter((s): s is ProcessStat => s !== undefined);
    const inTree = new Set([this.pid]);
    for (let grew = true; grew;) {
      grew = false;
      for (const s of all)
        if (!inTree.has(s.pid) && inTree.has(s.ppid)) {
          inTree.add(s.pid);
          grew = true;
        }
    }
    return all.filter((s) => inTree.has(s.pid));
  }

  describe(): string {
    return `process ${this.pid} and its children: ${this.tree().length} processes`;
  }

  private sample(): void {
    const tree = this.tree();
    this.peak = Math.max(
      this.peak,
      tree.reduce((sum, s) => sum + s.rssBytes, 0),
    );
    for (const s of tree) {
      // A process born during the run (a worker gunicorn replaced) counts from its birth.
      if (!this.ticksStart.has(s.pid)) this.ticksStart.set(s.pid, 0);
      this.ticksLast.set(s.pid, s.ticks);
    }
  }

  start(): void {
    this.peak = 0;
    this.startedAt = performance.now();
    this.ticksStart = new Map(this.tree().map((s) => [s.pid, s.ticks]));
    this.ticksLast.clear();
    this.sample();
    this.sampler = setInterval(() => this.sample(), SAMPLE_MS);
  }

  stop(): Usage {
    clearInterval(this.sampler);
    this.sample();
    // A process that ended meanwhile counts up to its last sample.
    let ticks = 0;
    for (const [pid, last] of this.ticksLast) ticks += last - (this.ticksStart.get(pid) ?? last);
    return {
      seconds: (performance.now() - this.startedAt) / 1000,
      peakBytes: this.peak,
      peakRssBytes: this.peak,
      cpuSeconds: ticks / CLOCK_TICKS,
    };
  }
}
