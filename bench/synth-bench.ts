/**
 * Benchmark (prints figures, asserts nothing): median wall time of `npx cdk8s synth` and of the direct
 * synth over several runs, and the stack's footprint against the VPS.
 *   npm run bench [-- --runs 9]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { buildStack } from '../main';
import { reservedFootprint, WorkloadFootprint, workloadFootprints } from '../lib/budget';
import { loadSiteConfig } from '../lib/config/load-site-config';
import { cpuToMillicores, formatBytes, formatMillicores, quantityToBytes } from '../lib/config/quantity';
import { buildManifests } from '../lib/synth';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(values.runs);

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Wall time of a command, in seconds, over `runs` runs (after one warm-up run). */
function time(label: string, command: string, args: string[], env: Record<string, string> = {}): void {
  const samples: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-bench-'));
    const start = process.hrtime.bigint();
    const result = spawnSync(
      command,
      args.map((a) => a.replace('{out}', outdir)),
      {
        cwd: REPO_ROOT,
        env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', CDK8S_OUTDIR: outdir, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    fs.rmSync(outdir, { recursive: true, force: true });
    if (result.status !== 0) throw new Error(`${label} failed: ${result.stderr}`);
    if (i > 0) samples.push(seconds);
  }
  const fmt = (s: number) => s.toFixed(2);
  console.log(
    `${label.padEnd(44)} median ${fmt(median(samples))} s  (min ${fmt(Math.min(...samples))}, max ${fmt(Math.max(...samples))}, ${runs} runs)`,
  );
}

function footprintRow(label: string, f: Omit<WorkloadFootprint, 'kind' | 'name' | 'onDemand'>): string {
  return [
    label.padEnd(34),
    String(f.replicas).padStart(3),
    formatMillicores(f.requestsMillicores).padStart(10),
    formatMillicores(f.limitsMillicores).padStart(10),
    formatBytes(f.requestsBytes).padStart(10),
    formatBytes(f.limitsBytes).padStart(10),
  ].join(' ');
}

console.log(`synth timings on ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`);
time('npx cdk8s synth (CLI + build + app)', 'npx', ['cdk8s', 'synth', '--output', '{out}']);
time('npm run synth (up-to-date check + app)', 'npm', ['run', '--silent', 'synth']);
time('direct synth: node build/synth.js', process.execPath, ['build/synth.js']);
time('bundle rebuild after a source change', 'sh', ['-c', 'rm -f build/synth.js.sha256 && node scripts/build.mjs']);

const site = loadSiteConfig();
const workloads = workloadFootprints(buildManifests(buildStack, site));
console.log('\nfootprint (requests and limits x replicas)');
console.log(`${'workload'.padEnd(34)} rep   cpu req  cpu limit    mem req  mem limit`);
for (const w of workloads) console.log(footprintRow(`${w.kind} ${w.name}`, w));
const total = reservedFootprint(workloads); // the templates run by hand: the largest of them
console.log(footprintRow('total', { ...total, replicas: workloads.reduce((n, w) => n + w.replicas, 0) }));
const share = (used: number, of: number) => `${((100 * used) / of).toFixed(0)}%`;
const vpsCpu = site.vps.cpu * 1000;
const vpsMemory = quantityToBytes(site.vps.memory);
console.log(`\nVPS ${site.vps.hostname}: ${site.vps.cpu} CPU, ${site.vps.memory}`);
console.log(
  `  requests: ${formatMillicores(total.requestsMillicores)} (${share(total.requestsMillicores, vpsCpu)}), ${formatBytes(total.requestsBytes)} (${share(total.requestsBytes, vpsMemory)})` +
    `  budget ${site.vps.budget.cpu} CPU / ${site.vps.budget.memory}: ${share(total.requestsMillicores, cpuToMillicores(site.vps.budget.cpu))} / ${share(total.requestsBytes, quantityToBytes(site.vps.budget.memory))}`,
);
console.log(
  `  limits:   ${formatMillicores(total.limitsMillicores)} (${share(total.limitsMillicores, vpsCpu)}), ${formatBytes(total.limitsBytes)} (${share(total.limitsBytes, vpsMemory)})`,
);
