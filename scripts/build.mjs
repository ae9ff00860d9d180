// Transpiles the TypeScript sources to build/ (CommonJS) with esbuild, in ~0.1 s.
// Type checking is separate (`npm run typecheck`, part of `npm test`) so that synth stays fast.
import { build } from 'esbuild';

const entryPoints = ['main.ts', 'lib/**/*.ts', 'charts/**/*.ts'];
if (process.argv.includes('--with-tests')) entryPoints.push('test/**/*.ts', 'bench/**/*.ts');

await build({
  entryPoints,
  outdir: 'build',
  outbase: '.',
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
