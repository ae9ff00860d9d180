/**
 * The synth command: validate the site, build the app, check the budget, then replace the output
 * folder in one step. Any failure exits non-zero and leaves the previous output untouched.
 */
import { App, YamlOutputType } from 'cdk8s';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BudgetError, checkBudget } from './budget';
import { DEFAULT_SITE_FILE, loadSiteConfig, SiteConfigError } from './config/load-site-config';
import { SiteConfig } from './config/site-config';

/** Adds every chart of the stack to the app; main.ts provides it. */
export type StackBuilder = (app: App, site: SiteConfig) => void;

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

/** Environment variable selecting the site file. */
export const SITE_CONFIG_ENV = 'SITE_CONFIG';

/** Builds the stack in memory and returns every manifest, without writing anything. */
export function buildManifests(build: StackBuilder, site: SiteConfig): Record<string, unknown>[] {
  const app = new App({ outdir: 'unused' });
  build(app, site);
  return app.charts.flatMap((chart) => chart.toJson());
}

export function synthesize(build: StackBuilder, options: SynthOptions): void {
  const site = options.site ?? loadSiteConfig(options.siteFile ?? DEFAULT_SITE_FILE);
  const outdir = path.resolve(options.outdir);
  const sideFiles = resolveSideFiles(path.dirname(outdir), outdir, options.sideFiles?.(site) ?? {});
  const staging = `${outdir}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    const app = new App({ outdir: staging, yamlOutputType: YamlOutputType.FILE_PER_CHART });
    build(app, site);
    checkBudget(site, app.charts.flatMap((chart) => chart.toJson()));
    app.synth();
    replaceDirectory(staging, outdir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  for (const [file, content] of sideFiles) replaceFile(file, content);
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

/** Writes a file in one step: readers see the old content or the new, never a part. */
function replaceFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const staging = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(staging, content);
    fs.renameSync(staging, file);
  } finally {
    fs.rmSync(staging, { force: true });
  }
}

/** Swaps a complete new folder in place of the old one; the old one is removed only afterwards. */
function replaceDirectory(source: string, target: string): void {
  const retired = `${target}.old-${process.pid}`;
  if (fs.existsSync(target)) fs.renameSync(target, retired);
  fs.renameSync(source, target);
  fs.rmSync(retired, { recursive: true, force: true });
}

/**
 * Entry point of main.ts: site file from SITE_CONFIG, output folder from CDK8S_OUTDIR (set by the cdk8s
 * CLI); side files beside that folder.
 */
export function runSynth(build: StackBuilder, sideFiles?: SideFiles): void {
  try {
    synthesize(build, {
      siteFile: process.env[SITE_CONFIG_ENV] || undefined,
      outdir: process.env.CDK8S_OUTDIR || 'dist',
      sideFiles,
    });
  } catch (error) {
    if (error instanceof SiteConfigError || error instanceof BudgetError) {
      process.stderr.write(`synth failed: ${error.message}\n`);
    } else {
      process.stderr.write(`synth failed: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exitCode = 1;
  }
}
