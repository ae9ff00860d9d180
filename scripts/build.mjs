// Compiles the TypeScript sources with esbuild; type checking is separate (`npm run typecheck`, part of
// `npm test`) so that synth stays fast.
//   node scripts/build.mjs               build/synth.js (bin/synth.ts) and build/plane-k3s.js (ops/cli.ts),
//                                        each bundled with its dependencies
//   node scripts/build.mjs --with-tests  also build/**: every module on its own, for tests and the benchmark
// esbuild is used through its JS API only, which finds its platform's binary (the optional dependency
// @esbuild/<platform>, which npm ci installs from the lockfile) by itself. Its postinstall script only
// checks that binary, fetches it when optional dependencies were left out, and swaps bin/esbuild's JS
// launcher for it: package.json's allowScripts denies it ("esbuild": false), so npm 11.16+ has no
// unreviewed install script to warn about on every npm ci, and npm 12, which skips unlisted ones,
// changes nothing here. Never install with --omit=optional.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = path.join(ROOT, 'build', 'synth.js');
/** The operator's CLI (package.json "bin": scripts/plane-k3s.mjs runs it). */
export const OPS_BUNDLE = path.join(ROOT, 'build', 'plane-k3s.js');
const ENTRY_POINTS = { [BUNDLE]: 'bin/synth.ts', [OPS_BUNDLE]: 'ops/cli.ts' };
const SOURCE_DIRS = ['bin', 'charts', 'lib', 'ops'];
const SOURCE_FILES = ['main.ts', 'package-lock.json', 'scripts/build.mjs'];
const common = { platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', absWorkingDir: ROOT };

/** Digest of everything the bundle is made of: a cheap way to know it is current. */
function sourcesDigest() {
  const files = [
    ...SOURCE_FILES,
    ...SOURCE_DIRS.flatMap((dir) =>
      fs
        .readdirSync(path.join(ROOT, dir), { recursive: true })
        .map((f) => path.join(dir, String(f)))
        .filter((f) => f.endsWith('.ts')),
    ),
  ].sort();
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(file)
      .update('\0')
      .update(fs.readFileSync(path.join(ROOT, file)))
      .update('\0');
  return hash.digest('hex');
}

/**
 * Bundles an entry point (one file loads ~0.2 s faster than hundreds of modules), unless the bundle is
 * already built from the same sources: esbuild then is not even loaded.
 */
export async function ensureBundle(bundle = BUNDLE) {
  const digest = sourcesDigest();
  const digestFile = `${bundle}.sha256`;
  if (fs.existsSync(bundle) && fs.existsSync(digestFile) && fs.readFileSync(digestFile, 'utf8') === digest) return;
  const { build } = await import('esbuild');
  await build({ ...common, entryPoints: [ENTRY_POINTS[bundle]], bundle: true, outfile: bundle });
  fs.writeFileSync(digestFile, digest);
}

/** Every module on its own, for the tests and the benchmark. */
export async function buildModules() {
  const { build } = await import('esbuild');
  await build({
    ...common,
    entryPoints: ['main.ts', 'bin/**/*.ts', 'lib/**/*.ts', 'charts/**/*.ts', 'ops/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    outdir: 'build',
    outbase: '.',
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await Promise.all([ensureBundle(BUNDLE), ensureBundle(OPS_BUNDLE), process.argv.includes('--with-tests') ? buildModules() : undefined]);
}
