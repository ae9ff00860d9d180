/**
 * The agent-mix benchmark against Plane's real v1.2.2 backend (see harness.ts for the variables): its
 * users made twice (the second run writes no row) in a workspace of their own, a short run of every
 * part (the project seeded through the API, the agents' calls, the human's pages signed in through
 * Plane's form) with every call answered as Plane answers it, no token or password in any output,
 * and the users removed at the end (their tokens refused).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers';
import { api, BASE_URL, MANAGE, REFUSED, skip } from './harness';

const WORKSPACE = 'agent-bench-test';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-bench-users-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function benchUsers(extra: NodeJS.ProcessEnv = {}): { code: number; output: string } {
  const result = spawnSync(MANAGE as string, ['shell', '--command', 'import plane_k3s_bench_users; plane_k3s_bench_users.main()'], {
    env: {
      ...process.env,
      PYTHONPATH: [path.join(REPO_ROOT, 'lib', 'plane', 'provision'), path.join(REPO_ROOT, 'bench')].join(path.delimiter),
      PLANE_BENCH_DIR: dir,
      PLANE_BENCH_WORKSPACE: WORKSPACE,
      PLANE_BENCH_AGENTS: '3',
      ...extra,
    },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

const secrets = () => [
  ...fs.readFileSync(path.join(dir, 'tokens'), 'utf8').split('\n').filter(Boolean),
  fs.readFileSync(path.join(dir, 'ui-password'), 'utf8'),
];
const withoutSecrets = (output: string) => secrets().every((s) => !output.includes(s));

describe("the agent-mix benchmark against Plane's real backend", { skip, concurrency: 1 }, () => {
  it('makes its users in a workspace of their own, once: a second run writes no row; tokens and password in 0600 files only', () => {
    const first = benchUsers();
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, new RegExp(`bench users: workspace ${WORKSPACE}, bench-human \\(Admin\\) and 3 agents converged`));
    const second = benchUsers();
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /rows written: nothing$/m);
    for (const file of ['tokens', 'ui-password']) assert.equal(fs.statSync(path.join(dir, file)).mode & 0o777, 0o600, file);
    assert.ok(withoutSecrets(first.output + second.output));
  });

  it("runs every part: the project seeded through the API, the agents' calls and the human's pages all answered", async () => {
    const [tokenOfAgent1] = secrets();
    assert.equal((await api('/api/v1/users/me/', tokenOfAgent1)).body.email, `bench-agent-01@${WORKSPACE}.bench.plane-k3s.local`);
    const args = `--base-url ${BASE_URL} --workspace ${WORKSPACE} --tokens-file ${path.join(dir, 'tokens')} --project BTEST --items 12`;
    const short = '--rates 1 --duration 4 --warmup 0 --pause 0 --ui-think 0.5 --by-kind';
    const run = spawnSync(
      process.execPath,
      [
        path.join(REPO_ROOT, 'build', 'bench', 'agent-mix.js'),
        ...`${args} ${short} --ui-email bench-human@${WORKSPACE}.bench.plane-k3s.local`.split(' '),
      ],
      { env: { ...process.env, PLANE_BENCH_UI_PASSWORD: secrets()[3] }, encoding: 'utf8', timeout: 300_000 },
    );
    const output = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, output);
    assert.ok(withoutSecrets(output), 'no token or password printed');
    assert.match(output, /project BTEST: (1[2-9]|[2-9]\d) work items, \d+ states/);
    // Every run row: no 5xx, no other 4xx (a wrong route or body), no network error.
    const rows = output.split('\n').filter((l) => /^1\/s( \+ human)?  /.test(l));
    assert.ok(rows.length >= 2, output);
    for (const row of rows) {
      const cells = row.trim().split(/\s{2,}/);
      assert.deepEqual([cells[7], cells[10], cells[11]], ['0', '0', '0'], row);
    }
    // Every page the human loaded: all its requests 2xx.
    const pages = output.split('\n').filter((l) => /^work item|^work items list/.test(l));
    assert.ok(pages.length >= 4, output);
    for (const page of pages)
      assert.equal(
        page
          .trim()
          .split(/\s{2,}/)
          .at(-1),
        '0',
        page,
      );
  });

  it('removes its users: their tokens are refused, a second removal writes nothing', async () => {
    const [tokenOfAgent1] = secrets();
    const removed = benchUsers({ PLANE_BENCH_REMOVE: '1' });
    assert.equal(removed.code, 0, removed.output);
    assert.match(removed.output, /api tokens deactivated 3, workspace members deactivated 4/);
    assert.equal((await api('/api/v1/users/me/', tokenOfAgent1)).status, REFUSED);
    assert.match(benchUsers({ PLANE_BENCH_REMOVE: '1' }).output, /rows written: nothing/);
  });
});
