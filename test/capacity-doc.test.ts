/**
 * docs/capacity.md's figures hold for the api they were measured on: the page records the api's limits,
 * workers and rate limit, and this fails as soon as the stack runs the api otherwise (re-run the
 * benchmark, then update the page). Also: the commands it gives parse as the bench and scripts take
 * them, and docs/agents.md quotes the stack's own rate limit.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseOptions } from '../bench/agent-mix';
import { apiServing, describeApiServing } from '../bench/load/stack-api';
import { Stack } from '../ops/stack';
import { Manifest, REPO_ROOT, siteWith } from './helpers';
import { codeBlocks, readDoc, section } from './readme';

const capacity = readDoc('docs/capacity.md');
const stack = new Stack(siteWith());
const MEASURED_WITH = /^Measured with the stack's api: (.+)\.$/m;

/** The api and the load the figures hold for: its serving, and the agents the site gives tokens to. */
function setup(of: Stack): string {
  return `${describeApiServing(apiServing(of))}, for the site's ${of.users.agents.length} agents`;
}

/** The api the figures were measured with, as the page records it. */
function measuredWith(markdown: string): string {
  const found = MEASURED_WITH.exec(markdown);
  if (!found) throw new Error('docs/capacity.md records no "Measured with the stack\'s api: …." line');
  return found[1];
}

describe('docs/capacity.md', () => {
  it('was measured with the api the stack runs (limits, workers, rate limit) and its agents: re-run the benchmark when they change', () => {
    const now = setup(stack);
    assert.equal(
      measuredWith(capacity),
      now,
      `docs/capacity.md was measured with another api or number of agents than the stack now has (${now}): re-run npm run bench:agents as the page says, then update its tables and this line`,
    );
  });

  it('the check fails for a change of workers, limits, rate limit or agents', () => {
    for (const change of [
      (tree: Manifest) => (tree.components.api.gunicornWorkers = 3),
      (tree: Manifest) => (tree.components.api.resources.limits.memory = '1536Mi'),
      (tree: Manifest) => (tree.plane.apiKeyRateLimit = '60/minute'),
      (tree: Manifest) => tree.users.agents.pop(),
    ]) {
      assert.notEqual(setup(new Stack(siteWith(change))), measuredWith(capacity));
    }
  });

  it('gives the commands as the bench and its scripts take them', () => {
    const blocks = codeBlocks(section(capacity, '## Re-running it').text);
    const lines = blocks.flatMap((b) => b.text.replace(/\\\n\s*/g, ' ').split('\n')).filter((l) => !l.startsWith('#'));
    // The users' command: its module and PYTHONPATH folders exist; it writes the files the bench reads.
    const users = lines.find((l) => l.includes('import plane_k3s_bench_users; plane_k3s_bench_users.main()'));
    assert.ok(users, 'the bench users command');
    const pythonPath = /PYTHONPATH="([^"]+)"/.exec(users)?.[1] ?? '';
    const folders = pythonPath.split(':').map((p) => p.replace(/^\$REPO\//, ''));
    assert.deepEqual(folders, ['lib/plane/provision', 'bench']);
    for (const folder of folders) assert.ok(fs.existsSync(path.join(REPO_ROOT, folder)), folder);
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'bench', 'plane_k3s_bench_users.py')));
    const benchDir = /PLANE_BENCH_DIR=(\S+)/.exec(users)?.[1];

    const bench = lines.filter((l) => l.includes('npm run bench:agents --'));
    assert.ok(bench.length >= 5, `${bench.length} bench commands`);
    const tokens = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'capacity-doc-')), 'tokens');
    fs.writeFileSync(tokens, Array.from({ length: 10 }, (_, i) => `plane_api_${String(i).padStart(32, '0')}`).join('\n'));
    try {
      for (const line of bench) {
        const args = line
          .slice(line.indexOf('npm run bench:agents --') + 'npm run bench:agents --'.length)
          .trim()
          .split(/\s+/);
        const file = args.indexOf('--tokens-file') + 1;
        assert.equal(args[file], `${benchDir}/tokens`, `${line}: the tokens the users command writes`);
        args[file] = tokens;
        if (line.includes('PLANE_BENCH_UI_PASSWORD='))
          assert.match(line, new RegExp(`^PLANE_BENCH_UI_PASSWORD="\\$\\(cat ${benchDir}/ui-password\\)"`));
        assert.doesNotThrow(() => parseOptions(args, { PLANE_BENCH_UI_PASSWORD: 'x' }, 'javisi'), line);
      }
    } finally {
      fs.rmSync(path.dirname(tokens), { recursive: true, force: true });
    }
    const cgroup = lines.filter((l) => l.includes('bench/api-in-cgroup.sh'));
    assert.ok(
      cgroup.some((l) => / start plane-bench \d+$/.test(l.trim())) && cgroup.some((l) => l.trim().endsWith(' stop plane-bench')),
      cgroup.join('\n'),
    );
    assert.ok(fs.statSync(path.join(REPO_ROOT, 'bench', 'api-in-cgroup.sh')).mode & 0o100, 'bench/api-in-cgroup.sh is executable');
  });
});

describe('docs/agents.md', () => {
  it("quotes the stack's rate limit", () => {
    const [count, unit] = apiServing(stack).rateLimit.split('/');
    const gentle = section(readDoc('docs/agents.md'), '## Be gentle with the shared api').text;
    assert.match(gentle, new RegExp(`\\*\\*Rate limit: ${count} requests per ${unit} per token\\.\\*\\*`));
  });
});
