/**
 * The synth command: validate the site, build the app, check the budget, then replace the output
 * folder and its side files together. Any failure exits non-zero with one line per problem and leaves
 * the previous output untouched; when the cdk8s CLI has already removed the output folder (it does so
 * before running the app), the last good output is put back (see LastGoodOutput).
 */
import { App, Chart, Names, Yaml } from 'cdk8s';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BudgetError, checkBudget, Footprint, reservedFootprint, workloadFootprints } from './budget';
import { DEFAULT_SITE_FILE, loadSiteConfig, SiteConfigError } from './config/load-site-config';
import { formatBytes, formatMillicores } from './config/quantity';
import { SiteConfig } from './config/site-config';
import { LastGoodOutput } from './last-good-output';

/**
 * Adds every chart of the stack to the app and returns them in the order `kubectl apply -f dist` must
 * take them (files are numbered in that order); main.ts provides it.
 */
export type StackBuilder = (app: App, site: SiteConfig) => { readonly charts: readonly Chart[] };

/**
 * Files that are not manifests, by path relative to the folder that holds the output folder: they are
 * written beside it, never in it, so `kubectl apply -f dist` sees manifests only.
 */
export type SideFiles = (site: SiteConfig) => Readonly<Record<string, string>>;

export interface SynthOptions {
  /** @default the Javisi site (site/javisi.yaml) */
  readonly siteFile?: string;
  /** An already validated site, instead of a file. */
  readonly site?: SiteConfig;
  readonly outdir: string;
  /** @default none */
  readonly sideFiles?: SideFiles;
}

/** What a synth wrote, for the line it prints. */
export interface SynthSummary {
  readonly outdir: string;
  readonly manifestFiles: number;
  readonly objects: number;
  readonly sideFiles: readonly string[];
  readonly footprint: Footprint;
  readonly budget: SiteConfig['vps']['budget'];
}

/** Environment variable selecting the site file. */
export const SITE_CONFIG_ENV = 'SITE_CONFIG';
/** Set to 1 to see where an unexpected (internal) synth error comes from. */
export const DEBUG_ENV = 'PLANE_K3S_DEBUG';

/** Builds the stack in memory and returns every manifest, without writing anything. */
export function buildManifests(build: StackBuilder, site: SiteConfig): Record<string, unknown>[] {
  const app = new App({ outdir: 'unused' });
  return build(app, site).charts.flatMap((chart) => chart.toJson());
}

/**
 * Writes one file per chart, numbered in the given order ("0003-secrets.k8s.yaml"), as cdk8s'
 * FILE_PER_CHART output does. The order is given, not derived from chart dependencies: cdk8s turns a
 * dependency between charts into one between every pair of their objects, and walks every path of that
 * graph, which grows exponentially along a chain of a dozen charts (seconds per synth, then minutes).
 */
function writeCharts(charts: readonly Chart[], outdir: string): void {
  fs.mkdirSync(outdir, { recursive: true });
  for (const { file, objects } of chartFiles(charts)) Yaml.save(path.join(outdir, file), objects);
}

/** Each chart's file name in dist/ and its objects; a chart with nothing in it (an external object store) has no file. */
export function chartFiles(charts: readonly Chart[]): { chart: Chart; file: string; objects: Record<string, unknown>[] }[] {
  return charts
    .map((chart) => ({ chart, objects: chart.toJson() }))
    .filter(({ objects }) => objects.length > 0)
    .map(({ chart, objects }, index) => ({
      chart,
      file: `${String(index).padStart(4, '0')}-${Names.toDnsLabel(chart)}.k8s.yaml`,
      objects,
    }));
}

export function synthesize(build: StackBuilder, options: SynthOptions): SynthSummary {
  const site = options.site ?? loadSiteConfig(options.siteFile ?? DEFAULT_SITE_FILE);
  const outdir = path.resolve(options.outdir);
  const sideFiles = resolveSideFiles(path.dirname(outdir), outdir, options.sideFiles?.(site) ?? {});
  const suffix = `tmp-${process.pid}`;
  const staging = `${outdir}.${suffix}`;
  const replacements: [string, string][] = [[staging, outdir], ...sideFiles.map(([file]): [string, string] => [`${file}.${suffix}`, file])];
  try {
    for (const [source] of replacements) fs.rmSync(source, { recursive: true, force: true });
    const { charts } = build(new App({ outdir: staging }), site);
    const manifests = charts.flatMap((chart) => chart.toJson());
    checkBudget(site, manifests);
    writeCharts(charts, staging);
    for (const [file, content] of sideFiles) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(`${file}.${suffix}`, content);
    }
    replaceTogether(replacements);
    keepLastGood(outdir);
    return {
      outdir,
      manifestFiles: fs.readdirSync(outdir).length,
      objects: manifests.length,
      sideFiles: sideFiles.map(([file]) => file),
      footprint: reservedFootprint(workloadFootprints(manifests)),
      budget: site.vps.budget,
    };
  } finally {
    for (const [source] of replacements) fs.rmSync(source, { recursive: true, force: true });
  }
}

/** A copy for `npx cdk8s synth` to restore; not having one never fails a synth that succeeded. */
function keepLastGood(outdir: string): void {
  try {
    new LastGoodOutput(outdir).save();
  } catch (error) {
    process.stderr.write(`synth: could not keep a copy of ${outdir} for a later failed \`npx cdk8s synth\`: ${(error as Error).message}\n`);
  }
}

/** Absolute paths of the side files; each must stay beside the output folder, not in it. */
function resolveSideFiles(base: string, outdir: string, files: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(files).map(([relative, content]) => {
    const file = path.resolve(base, relative);
    const inside = (dir: string) => file.startsWith(`${dir}${path.sep}`);
    if (path.isAbsolute(relative) || !inside(base) || inside(outdir)) {
      throw new Error(`side file ${relative} must be a relative path beside ${path.basename(outdir)}/, not in it`);
    }
    return [file, content];
  });
}

/**
 * Moves each complete source onto its target, all or none: a target is retired before it is replaced,
 * and if any move fails every target done so far gets its retired version back. The retired versions
 * are removed only once all are in place.
 */
export function replaceTogether(replacements: readonly (readonly [string, string])[]): void {
  const done: { target: string; retired?: string }[] = [];
  try {
    for (const [source, target] of replacements) {
      const retired = `${target}.old-${process.pid}`;
      const existed = fs.existsSync(target);
      if (existed) fs.renameSync(target, retired);
      done.push({ target, retired: existed ? retired : undefined });
      fs.renameSync(source, target);
    }
  } catch (error) {
    for (const { target, retired } of done.reverse()) {
      if (retired) {
        fs.rmSync(target, { recursive: true, force: true });
        fs.renameSync(retired, target);
      } else if (fs.existsSync(target)) {
        fs.rmSync(target, { recursive: true, force: true });
      }
    }
    throw error;
  }
  for (const { retired } of done) if (retired) fs.rmSync(retired, { recursive: true, force: true });
}

/** The line a successful synth prints: what was written, and the stack's requests against the budget. */
export function describeSummary(summary: SynthSummary, cwd = process.cwd()): string {
  const where = (file: string) => path.relative(cwd, file) || '.';
  const { footprint, budget } = summary;
  return [
    `synth: ${where(summary.outdir)}/ — ${summary.manifestFiles} files, ${summary.objects} objects`,
    ...summary.sideFiles.map((file) => `; ${where(file)}`),
    `\nrequests: ${formatMillicores(footprint.requestsMillicores)} of vps.budget.cpu ${budget.cpu}, `,
    `${formatBytes(footprint.requestsBytes)} of vps.budget.memory ${budget.memory}`,
  ].join('');
}

/**
 * Entry point of main.ts: site file from SITE_CONFIG, output folder from CDK8S_OUTDIR (set by the cdk8s
 * CLI); side files beside that folder.
 */
export function runSynth(build: StackBuilder, sideFiles?: SideFiles): void {
  const outdir = process.env.CDK8S_OUTDIR || 'dist';
  try {
    const summary = synthesize(build, { siteFile: process.env[SITE_CONFIG_ENV] || undefined, outdir, sideFiles });
    process.stdout.write(`${describeSummary(summary)}\n`);
  } catch (error) {
    process.stderr.write(`synth failed: ${failureMessage(error)}\n`);
    const restored = new LastGoodOutput(path.resolve(outdir)).restoreIfMissing();
    if (restored) process.stderr.write(`${outdir}/ had been removed (the cdk8s CLI empties it before running the app): ${restored}\n`);
    process.exitCode = 1;
  }
}

/** What went wrong, without a stack trace unless asked for (bad input is never a reason for one). */
function failureMessage(error: unknown): string {
  if (error instanceof SiteConfigError || error instanceof BudgetError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  if (process.env[DEBUG_ENV] === '1' && error instanceof Error) return error.stack ?? message;
  return `${message.split('\n')[0]} (an internal error: run again with ${DEBUG_ENV}=1 to see where it comes from)`;
}
