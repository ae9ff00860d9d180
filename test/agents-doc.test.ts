/**
 * docs/agents.md's MCP part against what the repository pins and makes: the release it names is the one
 * lib/plane/mcp-server.ts pins (and tools/mcp/install.sh installs), the client configuration names the
 * connection file and never a token, the Secret and variables it names are the stack's, and the tool table
 * is well formed with the core tools working. Whether each row is true is test/plane/mcp.test.ts's part,
 * on Plane's real backend.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { agentSecretName } from '../lib/plane/connection-secrets';
import { PLANE_MCP_REQUIREMENT, PLANE_MCP_SERVER } from '../lib/plane/mcp-server';
import { CONNECTION_KEYS } from '../ops/secrets';
import { Stack } from '../ops/stack';
import { DEFAULT_PLANE_RELEASE, SUPPORTED_PLANE_TAGS } from '../lib/config/plane-releases';
import {
  documentedLaunch,
  readAgentsDoc,
  RELEASE_DIFFERENCES_HEADING,
  releaseDifferences,
  TOOL_TABLE_RELEASE,
  toolTable,
  toolTableFor,
} from './agents-doc';
import { REPO_ROOT } from './helpers';
import { DOCS, readDoc } from './readme';

const DOC = readAgentsDoc();
const stack = Stack.load();

describe("docs/agents.md's MCP server", () => {
  it('is one of the documents whose paths, sections and plane-k3s lines are checked', () => {
    assert.ok((DOCS as readonly string[]).includes('docs/agents.md'));
  });

  it('names the pinned release, and no other, wherever the docs name one', () => {
    assert.ok(DOC.includes(`at release ${PLANE_MCP_SERVER.version}`), 'the release is stated');
    assert.ok(DOC.includes(`Python ${PLANE_MCP_SERVER.requiresPython.replace('>=', '')} or later`), 'its Requires-Python');
    const named = DOCS.flatMap((doc) =>
      [...readDoc(doc).matchAll(/plane-mcp-server==([0-9][0-9a-z.]*[0-9a-z])/g)].map((m) => `${doc}: ${m[1]}`),
    );
    assert.ok(named.length >= 4, `${named.length} mentions`);
    assert.deepEqual(
      named.filter((n) => !n.endsWith(`: ${PLANE_MCP_SERVER.version}`)),
      [],
    );
  });

  it('gives a client configuration that starts the pinned release from the connection file, with no token in it', () => {
    const launch = documentedLaunch();
    assert.deepEqual(Object.keys(launch.entry).sort(), ['args', 'command'], 'no env: a token would be inlined there');
    assert.equal(launch.command, 'uvx');
    assert.deepEqual([launch.args[0], launch.args[2]], ['--env-file', PLANE_MCP_REQUIREMENT]);
    assert.match(launch.args[1], /^\/.+\.env$/, 'an absolute path to the connection file');
    assert.doesNotMatch(DOC, /plane_api_[0-9a-f]{6,}/, 'no token, not even an example one');
  });

  it("names the stack's agent Secret and the connection's variables", () => {
    for (const agent of stack.users.agents) {
      const secret = stack.secret(agentSecretName(agent.id));
      assert.ok(secret, agentSecretName(agent.id));
      assert.deepEqual(Object.keys(secret.keys).sort(), [...CONNECTION_KEYS].sort(), secret.name);
    }
    assert.ok(DOC.includes(`name: ${agentSecretName('<id>')}`), 'the envFrom secretRef');
    assert.ok(DOC.includes(`\`${agentSecretName('<id>')}\``), 'the Secret, in the first lines');
    const variables = [...DOC.split('\n## ')[0].matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(variables, [...CONNECTION_KEYS]);
  });

  it('tells tools/mcp/install.sh, which reads the pin (a cached venv of that release is used as it is)', () => {
    assert.ok(DOC.includes('`tools/mcp/install.sh`'));
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-install-'));
    try {
      const command = path.join(cache, 'mcp', PLANE_MCP_SERVER.version, 'bin', PLANE_MCP_SERVER.command);
      fs.mkdirSync(path.dirname(command), { recursive: true });
      fs.writeFileSync(command, '#!/bin/sh\n', { mode: 0o755 });
      fs.writeFileSync(path.join(cache, 'mcp', PLANE_MCP_SERVER.version, '.complete'), '');
      const run = spawnSync(path.join(REPO_ROOT, 'tools', 'mcp', 'install.sh'), [], {
        env: { ...process.env, PLANE_K3S_CACHE: cache },
        encoding: 'utf8',
      });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), command);
      const bad = spawnSync(path.join(REPO_ROOT, 'tools', 'mcp', 'install.sh'), ['latest'], {
        env: { ...process.env, PLANE_K3S_CACHE: cache },
        encoding: 'utf8',
      });
      assert.equal(bad.status, 1);
      assert.equal(bad.stderr.trim(), 'install-mcp: not a release number: latest (expected e.g. 0.2.9)');
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('has a well-formed tool table, one row per call, in which the core tools work', () => {
    const rows = toolTable();
    assert.ok(rows.length > 100, `${rows.length} rows`);
    const calls = rows.map((r) => r.call);
    assert.deepEqual(
      calls.filter((c, i) => calls.indexOf(c) !== i),
      [],
      'rows called alike',
    );
    const works = new Set(rows.filter((r) => r.status === 'works').map((r) => r.call));
    for (const core of [
      'get_me',
      'get_workspace_members',
      'list_projects',
      'create_project',
      'retrieve_project',
      'update_project',
      'get_project_members',
      'list_states',
      'create_state',
      'list_labels',
      'create_work_item',
      'retrieve_work_item with expand',
      'update_work_item',
      'list_work_items',
      'delete_work_item',
      'create_work_item_comment',
      'list_work_item_comments',
      'update_work_item_comment',
    ])
      assert.ok(works.has(core), `${core} works`);
    const counts = ['works', 'fails', 'not verified'].map((s) => rows.filter((r) => r.status === s).length);
    assert.ok(counts[2] <= 6, `${counts[2]} rows not verified`);
  });

  it('says how each other supported release answers otherwise: rows of the table, each a real change, on a supported release', () => {
    assert.equal(TOOL_TABLE_RELEASE, DEFAULT_PLANE_RELEASE);
    const table = new Map(toolTable().map((r) => [r.call, r]));
    const differences = releaseDifferences();
    for (const [release, rows] of differences) {
      assert.ok(SUPPORTED_PLANE_TAGS.includes(release) && release !== TOOL_TABLE_RELEASE, `${release} is another supported release`);
      for (const row of rows) {
        const base = table.get(row.call);
        assert.ok(base, `${release} ${row.call}: not a row of the table`);
        assert.ok(base.status !== row.status || base.why !== row.why, `${release} ${row.call}: the same as the table's row`);
      }
      const changed = toolTableFor(release).filter((r) => JSON.stringify(r) !== JSON.stringify(table.get(r.call)));
      assert.deepEqual(changed, rows);
    }
    assert.throws(
      () =>
        releaseDifferences(
          `# x\n\n${RELEASE_DIFFERENCES_HEADING}\n\n| release | tool | there | why |\n|---|---|---|---|\n| 1.3 | \`get_me\` | works |  |\n`,
        ),
      /agents\.md:7: "1\.3" is not a release such as v1\.3\.1/,
    );
  });

  it('refuses a malformed row with its line', () => {
    const table = (row: string) => `# x\n\n### Every tool on Plane v1.2.2\n\n| tool | on v1.2.2 | why |\n|---|---|---|\n${row}\n`;
    assert.throws(() => toolTable(table('| `get_me` | works | because |')), /agents\.md:7: a tool that works needs no why/);
    assert.throws(
      () => toolTable(table('| `get_me` | fails | broken |')),
      /starts with "HTTP nnn", "response not understood" or "wrong answer"/,
    );
    assert.throws(() => toolTable(table('| `get_me` | maybe |  |')), /"maybe" is not one of works, fails, not verified/);
    assert.throws(() => toolTable(table('| get_me | works |  |')), /the tool's name in backticks/);
    assert.deepEqual(toolTable(table('| `list_work_items` without project_id | fails | HTTP 404, no route: x |')), [
      { call: 'list_work_items without project_id', tool: 'list_work_items', status: 'fails', why: 'HTTP 404, no route: x', line: 7 },
    ]);
  });
});
