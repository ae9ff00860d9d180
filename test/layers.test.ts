/** The layering: the site schema imports nothing above it, lib/ imports no chart and no CLI. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './helpers';

/** The repository's own TypeScript files a file imports (relative imports, resolved). */
function relativeImports(file: string): string[] {
  const source = fs.readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) => m[1]);
  return specifiers.map((s) => path.resolve(path.dirname(file), `${s}.ts`));
}

function closure(start: string): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...relativeImports(file));
  }
  return seen;
}

const rel = (file: string) => path.relative(REPO_ROOT, file);

describe('layers', () => {
  it('the site schema and everything it imports live in lib/config', () => {
    const files = [...closure(path.join(REPO_ROOT, 'lib', 'config', 'site-config.ts'))].map(rel);
    assert.ok(files.length > 5, files.join(' '));
    assert.deepEqual(
      files.filter((f) => !f.startsWith('lib/config/')),
      [],
    );
  });

  it('lib/ imports no chart, no CLI and not main.ts', () => {
    const lib = fs
      .readdirSync(path.join(REPO_ROOT, 'lib'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(REPO_ROOT, 'lib', f));
    const above = lib.flatMap((file) =>
      relativeImports(file)
        .map(rel)
        .filter((to) => !to.startsWith('lib/'))
        .map((to) => `${rel(file)} -> ${to}`),
    );
    assert.deepEqual(above, []);
  });
});
