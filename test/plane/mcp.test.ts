/**
 * Plane's MCP server, at the release lib/plane/mcp-server.ts pins, against Plane's real backend (the table is
 * v1.2.2's; on another supported release, with the rows docs/agents.md says that release changes)
 * (PLANE_TEST_MANAGE, PLANE_TEST_BASE_URL: see ./harness.ts; skipped with that reason otherwise).
 *
 * As an agent runs it: the site's agents are provisioned, one agent's connection file is written the way
 * `plane-k3s secrets connection` writes it (ops/secrets.ts), and the server is started over stdio with
 * that file's environment (PLANE_BASE_URL pointed at the backend). Then it lists its tools and every one
 * is called with valid arguments, in an order that creates what later calls read, update and delete:
 * reads go to real ids, writes only to a project this suite creates (deleted at the end by the server
 * itself, or through Plane's models if a step failed first). Each call is one row of docs/agents.md's tool
 * table, which says whether it works on v1.2.2 and, if not, how it fails: the suite fails on any row the
 * real run contradicts (and on a tool the table lacks), and prints the rows it saw, so the table is
 * written from a run and cannot claim more.
 *
 * The server uses one token, limited to 30 requests a minute: a call answered 429 waits out Plane's
 * 60-second window and is made again (the server itself does not retry, nor pass Retry-After on). About
 * 90 of the calls reach a throttled view (a route v1.2.2 lacks is not throttled), so a run takes 3 to 4
 * minutes. Another session that provisions meanwhile replaces the token: the run then stops on a 403 and
 * is to be made again. Tokens never reach the output: every text shown is cut from the server's answers
 * with the tokens replaced.
 *
 * Run: `npm run test:plane` (installs the release on first use: tools/mcp/install.sh).
 *   PLANE_TEST_MCP_TRACE optional: a file to append one line per call to (outcome, arguments, the
 *                        answer's first 300 characters, tokens replaced): what the table's "why" is read from
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { agentSecretName, API_KEY, BASE_URL_KEY } from '../../lib/plane/connection-secrets';
import { PLANE_MCP_SERVER } from '../../lib/plane/mcp-server';
import { agentTokenVariable } from '../../lib/plane/provisioning';
import { parseEnvFile } from '../../ops/env-file';
import { connectionFile, CONNECTION_KEYS, writePrivateFile } from '../../ops/secrets';
import { Stack } from '../../ops/stack';
import { documentedLaunch, expectedFailure, readAgentsDoc, ToolRow, toolTable, toolTableFor } from '../agents-doc';
import { REPO_ROOT } from '../helpers';
import { api, BASE_URL, MANAGE, newTokens, provision, RELEASE, skip, spec, Tokens } from './harness';

/** Optional: a file that gets one line per call (the call, its outcome, its arguments, the answer's start; no token). */
const TRACE = process.env.PLANE_TEST_MCP_TRACE;
/** The documented launch runs uvx (uv's, from PyPI: `pip install uv`) when it is on PATH. */
const uvxSkip = spawnSync('uvx', ['--version'], { encoding: 'utf8' }).status === 0 ? false : 'uvx is not on PATH (pip install uv)';
/** The agent whose connection the server gets: a Member, as most agents are. */
const AGENT = 'builder';
/** An id of nothing: for the tools whose route v1.2.2 lacks (there is nothing to point them at). */
const NONE = randomUUID();
/** The tool error over the rate limit, as docs/agents.md quotes it: no Retry-After gets through. */
const THROTTLED = 'HTTP 429: Too Many Requests: error_message: RATE_LIMIT_EXCEEDED';
/** Plane's window: after it, the oldest of the 30 requests has left it. */
const RETRY_AFTER_S = 61;
const RETRIES = 4;

type Data = any;
type Ids = Record<string, any>;

/** One call of a tool: a row of the doc's table, or a step that prepares later rows (`setup`). */
interface Step {
  /** The row's first cell without backticks (the tool, then how it is called when it has several rows). */
  readonly call: string;
  readonly args?: (ids: Ids) => Record<string, unknown>;
  /** For an answer without error: true when it is what was asked, else why not (the row then fails, "wrong answer"). */
  readonly check?: (data: Data, ids: Ids) => true | string;
  /** Keeps ids from the answer for later steps. */
  readonly keep?: (data: Data, ids: Ids) => void;
  /** Not a row: a call that must work for later rows to mean something. */
  readonly setup?: boolean;
}

const toolOf = (call: string) => call.split(' ')[0];
const idsIn = (list: Data): string[] => (Array.isArray(list) ? list : (list?.results ?? [])).map((x: Data) => x?.id);
const has = (list: Data, id: string, what: string): true | string => idsIn(list).includes(id) || `${what} ${id} not in the answer`;
const equal = (actual: unknown, expected: unknown, what: string): true | string =>
  actual === expected || `${what} is ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}`;
const today = () => new Date().toISOString().slice(0, 10);
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

/** Every call, in order. A row's call must be unique; `setup` steps may repeat a tool. */
function plan(agentEmail: string): Step[] {
  const suffix = randomUUID()
    .replace(/[^a-f]/g, '')
    .slice(0, 5)
    .toUpperCase()
    .padEnd(5, 'A');
  const p =
    (more: Record<string, unknown> = {}) =>
    (i: Ids) => ({ project_id: i.project, ...more });
  const wi =
    (more: Record<string, unknown> = {}) =>
    (i: Ids) => ({ project_id: i.project, work_item_id: i.item1, ...more });
  return [
    // The agent and its workspace.
    { call: 'get_me', check: (d) => equal(d.email, agentEmail, 'email'), keep: (d, i) => void (i.me = d.id) },
    { call: 'get_workspace_members', check: (d, i) => has(d, i.me, 'the agent') },
    { call: 'get_features' },
    // All six fields, or the server refuses the call before sending it; v1.2.2 has no such route to change.
    {
      call: 'update_workspace_features',
      args: () => ({ project_grouping: false, initiatives: false, teams: false, customers: false, wiki: false, pi: false }),
    },
    {
      call: 'get_pql_reference',
      args: () => ({ detail: 'brief' }),
      check: (d) => (JSON.stringify(d).length > 100 ? true : 'empty reference'),
    },
    // A project of its own.
    {
      call: 'create_project',
      args: () => ({ name: `MCP suite ${suffix}`, identifier: `M${suffix}` }),
      check: (d) => equal(d.identifier, `M${suffix}`, 'identifier'),
      keep: (d, i) => Object.assign(i, { project: d.id, identifier: d.identifier }),
    },
    { call: 'list_projects', args: () => ({ per_page: 100 }), check: (d, i) => has(d, i.project, 'the project') },
    { call: 'retrieve_project', args: p(), check: (d, i) => equal(d.id, i.project, 'id') },
    {
      call: 'update_project',
      args: p({ description: 'made by the MCP suite', cycle_view: true, module_view: true, intake_view: true }),
      check: (d) => equal(d.description, 'made by the MCP suite', 'description'),
    },
    { call: 'get_project_members', args: p(), check: (d, i) => has(d, i.me, 'the agent') },
    { call: 'get_features with project_id', args: p() },
    { call: 'update_project_features', args: p({ cycles: true }) },
    { call: 'get_project_worklog_summary', args: p() },
    // Estimates: no route in v1.2.2's API.
    { call: 'get_project_estimate', args: p() },
    { call: 'create_project_estimate', args: p({ name: 'MCP points' }) },
    { call: 'update_project_estimate', args: p({ name: 'MCP points 2' }) },
    { call: 'list_project_estimate_points', args: p({ estimate_id: NONE }) },
    { call: 'create_project_estimate_points', args: p({ estimate_id: NONE, points: [{ key: 1, value: '1' }] }) },
    { call: 'update_project_estimate_point', args: p({ estimate_id: NONE, estimate_point_id: NONE, value: '2' }) },
    { call: 'delete_project_estimate_point', args: p({ estimate_id: NONE, estimate_point_id: NONE }) },
    { call: 'link_estimate_to_project', args: p({ estimate_id: NONE }) },
    { call: 'delete_project_estimate', args: p() },
    // States and labels.
    {
      call: 'list_states',
      args: p(),
      check: (d) => (idsIn(d).length >= 5 ? true : `${idsIn(d).length} states`),
      keep: (d, i) => void (i.done = d.find((s: Data) => s.group === 'completed')?.id),
    },
    {
      call: 'create_state',
      args: p({ name: 'MCP review', color: '#3a86ff', group: 'started' }),
      check: (d) => equal(d.name, 'MCP review', 'name'),
      keep: (d, i) => void (i.state = d.id),
    },
    { call: 'retrieve_state', args: (i) => ({ project_id: i.project, state_id: i.state }), check: (d, i) => equal(d.id, i.state, 'id') },
    {
      call: 'update_state',
      args: (i) => ({ project_id: i.project, state_id: i.state, name: 'MCP reviewing' }),
      check: (d) => equal(d.name, 'MCP reviewing', 'name'),
    },
    {
      call: 'create_label',
      args: p({ name: 'mcp-suite', color: '#ff006e' }),
      check: (d) => equal(d.name, 'mcp-suite', 'name'),
      keep: (d, i) => void (i.label = d.id),
    },
    { call: 'list_labels', args: p(), check: (d, i) => has(d, i.label, 'the label') },
    { call: 'retrieve_label', args: (i) => ({ project_id: i.project, label_id: i.label }), check: (d, i) => equal(d.id, i.label, 'id') },
    {
      call: 'update_label',
      args: (i) => ({ project_id: i.project, label_id: i.label, name: 'mcp-suite-2' }),
      check: (d) => equal(d.name, 'mcp-suite-2', 'name'),
    },
    // Work items.
    {
      call: 'create_work_item',
      args: p({ name: 'MCP first', priority: 'high', description_html: '<p>first</p>' }),
      check: (d) => equal(d.name, 'MCP first', 'name'),
      keep: (d, i) => Object.assign(i, { item1: d.id, sequence1: d.sequence_id }),
    },
    {
      call: 'create_work_item',
      setup: true,
      args: p({ name: 'MCP second', priority: 'low' }),
      keep: (d, i) => void (i.item2 = d.id),
    },
    // The assignee and label tools read the work item first (plane-sdk's WorkItemDetail, which expects
    // expanded assignees and labels) and then write it: tried on a bare work item, then on one that has
    // an assignee or a label. Every later read goes to these work items, as an agent's would.
    {
      call: 'manage_work_item_assignee on a work item without assignees or labels',
      args: (i) => ({ ...wi()(i), add_user_id: i.me }),
      check: (d, i) => (d.assignees ?? []).includes(i.me) || `assignees ${JSON.stringify(d.assignees)}`,
    },
    {
      call: 'manage_work_item_label on a work item without assignees or labels',
      args: (i) => ({ project_id: i.project, work_item_id: i.item2, add_label_id: i.label }),
      check: (d, i) => (d.labels ?? []).includes(i.label) || `labels ${JSON.stringify(d.labels)}`,
    },
    {
      call: 'manage_work_item_label',
      args: (i) => ({ ...wi()(i), add_label_id: i.label }),
      check: (d, i) => (d.labels ?? []).includes(i.label) || `labels ${JSON.stringify(d.labels)}`,
    },
    {
      call: 'manage_work_item_assignee',
      args: (i) => ({ project_id: i.project, work_item_id: i.item2, add_user_id: i.me }),
      check: (d, i) => (d.assignees ?? []).includes(i.me) || `assignees ${JSON.stringify(d.assignees)}`,
    },
    // Work item 1 has an assignee, work item 2 a label (and an assignee if the call above worked).
    { call: 'retrieve_work_item', args: wi(), check: (d, i) => equal(d.id, i.item1, 'id') },
    {
      call: 'retrieve_work_item with expand',
      args: wi({ expand: 'assignees,labels' }),
      check: (d, i) => (d.assignees ?? []).some((a: Data) => a?.id === i.me) || `assignees ${JSON.stringify(d.assignees)}`,
    },
    {
      call: 'retrieve_work_item_by_identifier',
      args: (i) => ({ work_item_identifier: `${i.identifier}-${i.sequence1}` }),
      check: (d, i) => equal(d.id, i.item1, 'id'),
    },
    {
      call: 'retrieve_work_item_by_identifier with expand',
      args: (i) => ({ work_item_identifier: `${i.identifier}-${i.sequence1}`, expand: 'assignees,labels' }),
      check: (d, i) => (d.assignees ?? []).some((a: Data) => a?.id === i.me) || `assignees ${JSON.stringify(d.assignees)}`,
    },
    {
      call: 'update_work_item',
      args: (i) => ({ project_id: i.project, work_item_id: i.item1, state: i.state, priority: 'urgent' }),
      check: (d, i) => (d.state === i.state && d.priority === 'urgent') || `state ${d.state}, priority ${d.priority}`,
    },
    {
      call: 'list_work_items',
      args: p({ per_page: 50 }),
      check: (d, i) => (idsIn(d).includes(i.item1) && idsIn(d).includes(i.item2)) || 'the two work items are not both listed',
    },
    { call: 'list_work_items without project_id', args: () => ({ per_page: 50 }) },
    {
      call: 'list_work_items with pql',
      args: p({ pql: 'priority = "urgent"' }),
      check: (d) => {
        const others = (d.results ?? []).filter((w: Data) => w.priority !== 'urgent');
        return others.length === 0 || `${others.length} of ${d.results.length} work items listed are not urgent: the filter is ignored`;
      },
    },
    { call: 'count_work_items', args: () => ({}) },
    {
      call: 'search_work_items',
      args: () => ({ query: 'MCP first' }),
      check: (d, i) =>
        (d.issues ?? []).some((w: Data) => w.id === i.item1) || `found ${(d.issues ?? []).length} work items, not "MCP first"`,
    },
    {
      call: 'list_work_item_activities',
      args: wi(),
      check: (d) => (idsIn(d).length > 0 ? true : 'no activity'),
      keep: (d, i) => void (i.activity = idsIn(d)[0]),
    },
    {
      call: 'retrieve_work_item_activity',
      args: (i) => ({ ...wi()(i), activity_id: i.activity }),
      check: (d, i) => equal(d.id, i.activity, 'id'),
    },
    // Comments and links.
    {
      call: 'create_work_item_comment',
      args: wi({ comment_html: '<p>MCP comment</p>' }),
      check: (d) => equal(d.comment_html, '<p>MCP comment</p>', 'comment_html'),
      keep: (d, i) => void (i.comment = d.id),
    },
    { call: 'list_work_item_comments', args: wi(), check: (d, i) => has(d, i.comment, 'the comment') },
    {
      call: 'retrieve_work_item_comment',
      args: (i) => ({ ...wi()(i), comment_id: i.comment }),
      check: (d, i) => equal(d.id, i.comment, 'id'),
    },
    {
      call: 'update_work_item_comment',
      args: (i) => ({ ...wi()(i), comment_id: i.comment, comment_html: '<p>MCP comment, edited</p>' }),
      check: (d) => equal(d.comment_html, '<p>MCP comment, edited</p>', 'comment_html'),
    },
    {
      call: 'create_work_item_link',
      args: wi({ url: 'https://example.com/mcp-suite' }),
      check: (d) => equal(d.url, 'https://example.com/mcp-suite', 'url'),
      keep: (d, i) => void (i.link = d.id),
    },
    { call: 'list_work_item_links', args: wi(), check: (d, i) => has(d, i.link, 'the link') },
    { call: 'retrieve_work_item_link', args: (i) => ({ ...wi()(i), link_id: i.link }), check: (d, i) => equal(d.id, i.link, 'id') },
    {
      call: 'update_work_item_link',
      args: (i) => ({ ...wi()(i), link_id: i.link, url: 'https://example.com/mcp-suite/2' }),
      check: (d) => equal(d.url, 'https://example.com/mcp-suite/2', 'url'),
    },
    // Relations, work logs, pages: no route in v1.2.2's API.
    { call: 'list_work_item_relations', args: wi() },
    { call: 'create_work_item_relation', args: (i) => ({ ...wi()(i), relation_type: 'relates_to', issues: [i.item2] }) },
    { call: 'remove_work_item_relation', args: (i) => ({ ...wi()(i), related_issue: i.item2 }) },
    { call: 'list_work_logs', args: wi() },
    { call: 'create_work_log', args: wi({ duration: 15, description: 'MCP' }) },
    { call: 'update_work_log', args: wi({ work_log_id: NONE, duration: 20 }) },
    { call: 'delete_work_log', args: wi({ work_log_id: NONE }) },
    { call: 'list_pages', args: () => ({}) },
    { call: 'list_pages with project_id', args: p() },
    { call: 'create_page', args: p({ name: 'MCP page', description_html: '<p>page</p>' }) },
    { call: 'retrieve_page', args: p({ page_id: NONE }) },
    { call: 'list_work_item_pages', args: wi() },
    { call: 'attach_page_to_work_item', args: wi({ page_id: NONE }) },
    { call: 'detach_page_from_work_item', args: wi({ work_item_page_id: NONE }) },
    // Attachments: the routes exist, but an upload needs an object store and a public URL to fetch.
    { call: 'list_work_item_attachments', args: wi(), check: (d) => (Array.isArray(d) ? true : 'not a list') },
    { call: 'upload_work_item_attachment_from_url', args: wi({ url: 'https://example.com/mcp-suite.txt' }) },
    { call: 'get_work_item_attachment_download_url', args: wi({ attachment_id: NONE }) },
    { call: 'read_work_item_attachment', args: wi({ attachment_id: NONE }) },
    { call: 'delete_work_item_attachment', args: wi({ attachment_id: NONE }) },
    // Cycles.
    {
      call: 'create_cycle',
      args: (i) => ({ project_id: i.project, name: 'MCP cycle', owned_by: i.me, start_date: today(), end_date: inDays(14) }),
      check: (d) => equal(d.name, 'MCP cycle', 'name'),
      keep: (d, i) => void (i.cycle = d.id),
    },
    {
      call: 'create_cycle',
      setup: true,
      args: (i) => ({ project_id: i.project, name: 'MCP cycle 2', owned_by: i.me, start_date: inDays(15), end_date: inDays(29) }),
      keep: (d, i) => void (i.cycle2 = d.id),
    },
    {
      call: 'create_cycle',
      setup: true,
      args: (i) => ({ project_id: i.project, name: 'MCP cycle past', owned_by: i.me, start_date: inDays(-30), end_date: inDays(-16) }),
      keep: (d, i) => void (i.pastCycle = d.id),
    },
    { call: 'list_cycles', args: p(), check: (d, i) => has(d, i.cycle, 'the cycle') },
    { call: 'retrieve_cycle', args: (i) => ({ project_id: i.project, cycle_id: i.cycle }), check: (d, i) => equal(d.id, i.cycle, 'id') },
    {
      call: 'update_cycle',
      args: (i) => ({ project_id: i.project, cycle_id: i.cycle, description: 'MCP' }),
      check: (d) => equal(d.description, 'MCP', 'description'),
    },
    { call: 'manage_cycle_work_items', args: (i) => ({ project_id: i.project, cycle_id: i.cycle, add_ids: [i.item1] }) },
    {
      call: 'list_cycle_work_items',
      args: (i) => ({ project_id: i.project, cycle_id: i.cycle }),
      check: (d, i) => has(d, i.item1, 'the work item'),
    },
    {
      call: 'transfer_cycle_work_items before complete_cycle',
      args: (i) => ({ project_id: i.project, cycle_id: i.cycle, new_cycle_id: i.cycle2 }),
    },
    {
      call: 'complete_cycle',
      args: (i) => ({ project_id: i.project, cycle_id: i.cycle }),
      check: (d) => equal(d.end_date?.slice(0, 10), today(), 'end_date'),
    },
    {
      call: 'transfer_cycle_work_items',
      args: (i) => ({ project_id: i.project, cycle_id: i.cycle, new_cycle_id: i.cycle2 }),
    },
    {
      call: 'list_cycle_work_items after the transfer',
      args: (i) => ({ project_id: i.project, cycle_id: i.cycle2 }),
      check: (d, i) => has(d, i.item1, 'the transferred work item'),
    },
    { call: 'manage_cycle_archive right after complete_cycle', args: (i) => ({ project_id: i.project, cycle_id: i.cycle, archive: true }) },
    { call: 'manage_cycle_archive', args: (i) => ({ project_id: i.project, cycle_id: i.pastCycle, archive: true }) },
    { call: 'list_cycles archived', args: p({ archived: true }), check: (d, i) => has(d, i.pastCycle, 'the archived cycle') },
    { call: 'manage_cycle_archive to unarchive', args: (i) => ({ project_id: i.project, cycle_id: i.pastCycle, archive: false }) },
    { call: 'delete_cycle', args: (i) => ({ project_id: i.project, cycle_id: i.cycle2 }) },
    // Modules.
    {
      call: 'create_module',
      args: p({ name: 'MCP module' }),
      check: (d) => equal(d.name, 'MCP module', 'name'),
      keep: (d, i) => void (i.module = d.id),
    },
    { call: 'list_modules', args: p(), check: (d, i) => has(d, i.module, 'the module') },
    {
      call: 'retrieve_module',
      args: (i) => ({ project_id: i.project, module_id: i.module }),
      check: (d, i) => equal(d.id, i.module, 'id'),
    },
    {
      call: 'update_module',
      args: (i) => ({ project_id: i.project, module_id: i.module, status: 'completed' }),
      check: (d) => equal(d.status, 'completed', 'status'),
    },
    { call: 'manage_module_work_items', args: (i) => ({ project_id: i.project, module_id: i.module, add_ids: [i.item1] }) },
    {
      call: 'list_module_work_items',
      args: (i) => ({ project_id: i.project, module_id: i.module }),
      check: (d, i) => has(d, i.item1, 'the work item'),
    },
    { call: 'manage_module_archive', args: (i) => ({ project_id: i.project, module_id: i.module, archive: true }) },
    { call: 'list_modules archived', args: p({ archived: true }), check: (d, i) => has(d, i.module, 'the archived module') },
    { call: 'manage_module_archive to unarchive', args: (i) => ({ project_id: i.project, module_id: i.module, archive: false }) },
    { call: 'delete_module', args: (i) => ({ project_id: i.project, module_id: i.module }) },
    // Intake (enabled on the project by update_project above, with cycles and modules).
    {
      call: 'create_intake_work_item',
      args: p({ data: { issue: { name: 'MCP intake' } } }),
      keep: (d, i) => void (i.intake = d.issue ?? d.id),
    },
    { call: 'list_intake_work_items', args: p(), check: (d) => (idsIn(d).length > 0 ? true : 'nothing in intake') },
    { call: 'retrieve_intake_work_item', args: (i) => ({ project_id: i.project, work_item_id: i.intake ?? NONE }) },
    { call: 'update_intake_work_item', args: (i) => ({ project_id: i.project, work_item_id: i.intake ?? NONE, status: 1 }) },
    { call: 'delete_intake_work_item', args: (i) => ({ project_id: i.project, work_item_id: i.intake ?? NONE }) },
    // Initiatives, milestones, work item types and properties: no route in v1.2.2's API.
    { call: 'list_initiatives', args: () => ({}) },
    { call: 'create_initiative', args: () => ({ name: 'MCP initiative' }) },
    { call: 'retrieve_initiative', args: () => ({ initiative_id: NONE }) },
    { call: 'update_initiative', args: () => ({ initiative_id: NONE, name: 'MCP' }) },
    { call: 'delete_initiative', args: () => ({ initiative_id: NONE }) },
    { call: 'list_milestones', args: p() },
    { call: 'create_milestone', args: p({ title: 'MCP milestone' }) },
    { call: 'retrieve_milestone', args: p({ milestone_id: NONE }) },
    { call: 'update_milestone', args: p({ milestone_id: NONE, title: 'MCP' }) },
    { call: 'manage_milestone_work_items', args: (i) => ({ project_id: i.project, milestone_id: NONE, add_ids: [i.item1] }) },
    { call: 'list_milestone_work_items', args: p({ milestone_id: NONE }) },
    { call: 'delete_milestone', args: p({ milestone_id: NONE }) },
    { call: 'list_work_item_types', args: p() },
    { call: 'create_work_item_type', args: p({ name: 'MCP type' }) },
    { call: 'retrieve_work_item_type', args: p({ work_item_type_id: NONE }) },
    { call: 'update_work_item_type', args: p({ work_item_type_id: NONE, name: 'MCP' }) },
    { call: 'import_work_item_types_to_project', args: p({ work_item_type_ids: [NONE] }) },
    { call: 'resolve_work_item_type', args: p({ name: 'Bug' }) },
    { call: 'delete_work_item_type', args: p({ work_item_type_id: NONE }) },
    { call: 'list_work_item_properties', args: () => ({}) },
    {
      // With a project the server swallows any error and answers [] (its code says so): v1.2.2 has no route for it.
      call: 'list_work_item_properties with project_id',
      args: p(),
      check: (d) => (Array.isArray(d) && d.length > 0) || 'an empty list, whatever the project holds: the 404 is swallowed',
    },
    { call: 'create_work_item_property', args: p({ display_name: 'MCP', property_type: 'BOOLEAN' }) },
    { call: 'retrieve_work_item_property', args: p({ work_item_property_id: NONE }) },
    { call: 'update_work_item_property', args: p({ work_item_property_id: NONE, display_name: 'MCP 2' }) },
    { call: 'delete_work_item_property', args: p({ work_item_property_id: NONE }) },
    { call: 'manage_work_item_type_properties', args: p({ work_item_type_id: NONE, attach_ids: [NONE] }) },
    { call: 'list_work_item_property_options', args: p({ property_id: NONE }) },
    { call: 'create_work_item_property_option', args: p({ property_id: NONE, name: 'MCP' }) },
    { call: 'retrieve_work_item_property_option', args: p({ property_id: NONE, option_id: NONE }) },
    { call: 'update_work_item_property_option', args: p({ property_id: NONE, option_id: NONE, name: 'MCP 2' }) },
    { call: 'delete_work_item_property_option', args: p({ property_id: NONE, option_id: NONE }) },
    { call: 'get_work_item_property_value', args: wi({ property_id: NONE }) },
    { call: 'set_work_item_property_value', args: wi({ property_id: NONE, value: 'MCP' }) },
    { call: 'delete_work_item_property_value', args: wi({ property_id: NONE }) },
    // Archiving a work item (Plane archives only completed or cancelled ones).
    {
      call: 'update_work_item',
      setup: true,
      args: (i) => ({ project_id: i.project, work_item_id: i.item2, state: i.done }),
    },
    { call: 'manage_work_item_archive', args: (i) => ({ project_id: i.project, work_item_id: i.item2, archive: true }) },
    { call: 'list_archived_work_items', args: p(), check: (d, i) => has(d, i.item2, 'the archived work item') },
    { call: 'manage_work_item_archive to unarchive', args: (i) => ({ project_id: i.project, work_item_id: i.item2, archive: false }) },
    // Deleting what the suite made, the project last.
    { call: 'delete_work_item_comment', args: (i) => ({ ...wi()(i), comment_id: i.comment }) },
    { call: 'delete_work_item_link', args: (i) => ({ ...wi()(i), link_id: i.link }) },
    { call: 'delete_label', args: (i) => ({ project_id: i.project, label_id: i.label }) },
    { call: 'delete_work_item', args: wi() },
    { call: 'delete_state', args: (i) => ({ project_id: i.project, state_id: i.state }) },
    { call: 'manage_project_archive', args: p({ archive: true }) },
    { call: 'manage_project_archive to unarchive', args: p({ archive: false }) },
    { call: 'delete_project', args: p(), keep: (_d, i) => void (i.deleted = true) },
  ];
}

/** What a call did, as the table says it: `works`, or `fails` with the HTTP status or "wrong answer". */
interface Outcome {
  readonly call: string;
  readonly status: 'works' | 'fails';
  /** `HTTP 404, no route`, `HTTP 400`, `wrong answer: …`, or the error's first words. */
  readonly why: string;
  readonly ms: number;
}

describe("Plane's MCP server against Plane's real backend", { skip, concurrency: 1 }, () => {
  const stack = Stack.load();
  const agent = spec.agents.find((a: { id: string }) => a.id === AGENT);
  let tokens: Tokens;
  let secrets: string[] = [];
  /** Replaces every token in a text shown by the suite. */
  const redact = (text: string) => secrets.reduce((t, s) => t.split(s).join('<token>'), text);
  let dir: string;
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';
  const figures: Record<string, number> = {};
  const ids: Ids = {};
  let listed: string[] = [];
  const outcomes: Outcome[] = [];
  const throttled = { calls: 0, waitedS: 0, example: '' };

  before(async () => {
    const install = spawnSync(path.join(REPO_ROOT, 'tools', 'mcp', 'install.sh'), [], { encoding: 'utf8', timeout: 600_000 });
    assert.equal(install.status, 0, `tools/mcp/install.sh: ${install.stderr.slice(-500)}`);
    const command = install.stdout.trim();

    // Right before use: another session may have provisioned the agents with other tokens meanwhile.
    tokens = newTokens();
    secrets = Object.values(tokens);
    const provisioned = provision(tokens);
    assert.equal(provisioned.code, 0, provisioned.output);

    // The connection file, as `plane-k3s secrets connection builder` writes it from the agent's Secret:
    // the Secret's plain values from the stack, its token, and the backend's URL for the site's.
    const secret = stack.secret(agentSecretName(AGENT));
    assert.ok(secret, `the stack has no Secret ${agentSecretName(AGENT)}`);
    const values: Record<string, string> = {};
    for (const [key, source] of Object.entries(secret.keys)) if ('value' in source) values[key] = String(source.value);
    values[API_KEY] = tokens[agentTokenVariable(AGENT)];
    values[BASE_URL_KEY] = BASE_URL as string;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-mcp-'));
    const file = path.join(dir, `${AGENT}.env`);
    writePrivateFile(file, connectionFile(values), false);
    const env = Object.fromEntries([...parseEnvFile(fs.readFileSync(file, 'utf8'), file)].map(([k, v]) => [k, v.value]));
    assert.deepEqual(Object.keys(env).sort(), [...CONNECTION_KEYS].sort());

    const started = performance.now();
    transport = new StdioClientTransport({
      command,
      args: [],
      // Only the connection and what a process needs to run: nothing of the developer's environment.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    client = new Client({ name: 'plane-k3s-mcp-suite', version: '1' });
    await client.connect(transport);
    figures.startMs = Math.round(performance.now() - started);
    listed = (await client.listTools()).tools.map((t) => t.name);
    figures.startAndListMs = Math.round(performance.now() - started);
  });

  after(async () => {
    // A step failed before delete_project: the project goes through Plane's models (the agent's token may
    // have been replaced by another session meanwhile).
    if (ids.project && !ids.deleted) {
      const removed = spawnSync(
        MANAGE as string,
        ['shell', '--command', `from plane.db.models import Project; Project.objects.filter(id="${ids.project}").delete()`],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      assert.equal(removed.status, 0, `the suite's project ${ids.project} is left: ${removed.stderr.slice(-300)}`);
    }
    await client?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The server's process: resident memory now and at its peak (Linux /proc), in MiB. */
  function memory(): { rss: number; peak: number } | undefined {
    try {
      const status = fs.readFileSync(`/proc/${transport.pid}/status`, 'utf8');
      const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rss: Math.round(kib('VmRSS') / 1024), peak: Math.round(kib('VmHWM') / 1024) };
    } catch {
      return undefined;
    }
  }

  /** A tool's answer as data: its structured content (a list comes wrapped in `result`), else its text as JSON. */
  function dataOf(result: Data): Data {
    const structured = result.structuredContent;
    if (structured) return result._meta?.fastmcp?.wrap_result ? structured.result : structured;
    const text = result.content?.find((c: Data) => c.type === 'text')?.text;
    try {
      return text === undefined ? undefined : JSON.parse(text);
    } catch {
      return text;
    }
  }

  /** Calls a tool; a 429 waits out Plane's window and calls again. */
  async function call(tool: string, args: Record<string, unknown>): Promise<{ result: Data; ms: number }> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const result: Data = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120_000 });
      const ms = Math.round(performance.now() - started);
      const text = result.isError ? String(result.content?.[0]?.text ?? '') : '';
      if (!/HTTP 429/.test(text) || attempt === RETRIES) return { result, ms };
      const seconds = RETRY_AFTER_S;
      throttled.calls++;
      throttled.example ||= redact(text).slice(0, 160);
      throttled.waitedS += seconds;
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }

  it('starts over stdio with the connection file, and lists the tools the doc lists', () => {
    const rows = toolTable();
    const documented = new Set(rows.map((r) => r.tool));
    assert.deepEqual(
      listed.filter((t) => !documented.has(t)),
      [],
      `tools of ${PLANE_MCP_SERVER.package} ${PLANE_MCP_SERVER.version} missing from docs/agents.md's table`,
    );
    assert.deepEqual(
      [...documented].filter((t) => !listed.includes(t)),
      [],
      `tools in docs/agents.md's table that ${PLANE_MCP_SERVER.package} ${PLANE_MCP_SERVER.version} does not offer`,
    );
    const calls = new Set(plan('').map((s) => s.call));
    assert.deepEqual(
      rows.filter((r) => !calls.has(r.call)).map((r) => r.call),
      [],
      'rows of the table this suite does not call',
    );
  });

  it("costs a few milliseconds a call over the API's own time", async () => {
    // The same request, straight and through the server (get_me is one GET users/me/), before the run
    // spends the token's 30 requests a minute.
    const token = tokens[agentTokenVariable(AGENT)];
    const direct: number[] = [];
    const through: number[] = [];
    for (let i = 0; i < 5; i++) {
      let started = performance.now();
      const { status } = await api('/api/v1/users/me/', token);
      direct.push(performance.now() - started);
      assert.equal(status, 200);
      started = performance.now();
      const { result } = await call('get_me', {});
      through.push(performance.now() - started);
      assert.ok(!result.isError, redact(JSON.stringify(result.content).slice(0, 200)));
    }
    const median = (xs: number[]) => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
    figures.directMs = median(direct);
    figures.throughMs = median(through);
    const idle = memory();
    if (idle) figures.idleRssMiB = idle.rss;
    // Generous: a stdio hop and pydantic's parsing, not a second round trip.
    assert.ok(
      figures.throughMs - figures.directMs < 250,
      `get_me: ${figures.throughMs} ms through the server, ${figures.directMs} ms straight`,
    );
  });

  it("calls every tool as the agent; each works or fails as docs/agents.md's table says", async () => {
    // The table is v1.2.2's run; on another release, with the rows the doc says that release changes.
    const rows = new Map(toolTableFor(RELEASE.tag).map((r) => [r.call, r]));
    const started = performance.now();
    for (const step of plan(agent.email)) {
      const tool = toolOf(step.call);
      let args: Record<string, unknown>;
      try {
        args = step.args?.(ids) ?? {};
      } catch (error) {
        assert.fail(`${step.call}: no arguments (an earlier step did not keep its id): ${String(error)}`);
      }
      const { result, ms } = await call(tool, args);
      const text = redact(String(result.content?.find((c: Data) => c.type === 'text')?.text ?? '')).slice(0, 300);
      let outcome: Outcome;
      if (result.isError) {
        const http = /HTTP (\d{3})/.exec(text)?.[1];
        // Plane's URL resolver answers "Page not found." for a route it lacks; a view's 404 says what is missing.
        const why = http
          ? `HTTP ${http}${http === '404' && /Page not found/.test(text) ? ', no route' : ''}`
          : /\d+ validation errors? for /.test(text)
            ? `response not understood: ${/validation errors? for (\w+)/.exec(text)?.[1]}`
            : text.replace(/^Error calling tool '[a-z_]+': /, '').slice(0, 120);
        outcome = { call: step.call, status: 'fails', why, ms };
      } else {
        const data = dataOf(result);
        const verdict = step.check?.(data, ids) ?? true;
        if (verdict === true) step.keep?.(data, ids);
        outcome =
          verdict === true
            ? { call: step.call, status: 'works', why: '', ms }
            : { call: step.call, status: 'fails', why: `wrong answer: ${verdict}`, ms };
      }
      if (TRACE) fs.appendFileSync(TRACE, `${step.call}\t${outcome.status}\t${ms} ms\t${JSON.stringify(args)}\t${text}\n`);
      if (step.setup) assert.equal(outcome.status, 'works', `${step.call} (a setup step): ${outcome.why} ${text}`);
      else outcomes.push(outcome);
      // 403 mid-run: another session re-provisioned the agents (their tokens changed): run again.
      assert.ok(
        !/HTTP 403/.test(text) || rows.get(step.call)?.why.startsWith('HTTP 403'),
        `${step.call}: ${text}: the agent's token changed meanwhile (another session provisioned)? Run again.`,
      );
    }
    figures.callsMs = Math.round(performance.now() - started);
    const mismatches = outcomes.filter((o) => !agrees(rows.get(o.call), o));
    const seen = outcomes.map(
      (o) =>
        `| \`${o.call.split(' ')[0]}\`${o.call.includes(' ') ? ` ${o.call.split(' ').slice(1).join(' ')}` : ''} | ${o.status} | ${o.why} |`,
    );
    assert.deepEqual(
      mismatches.map((o) => `${o.call}: the doc says ${claimOf(rows.get(o.call))}, the run ${o.status}${o.why ? ` (${o.why})` : ''}`),
      [],
      `docs/agents.md's table (${RELEASE.tag}) disagrees with the run. The rows as run:\n${seen.join('\n')}`,
    );
  });

  it("starts as docs/agents.md's client configuration says, with uvx and the connection file", { skip: uvxSkip }, async () => {
    const { command, args } = documentedLaunch();
    const file = path.join(dir, `${AGENT}.env`);
    const uvx = new StdioClientTransport({
      command,
      // The documented arguments, the agent's connection file in place of the sample path.
      args: args.map((a) => (a.endsWith('.env') ? file : a)),
      // The developer's environment, for uv to reach PyPI (proxy, CA), less any PLANE_ variable: the
      // connection comes from the file alone.
      env: Object.fromEntries(
        Object.entries(process.env).filter((e): e is [string, string] => !e[0].startsWith('PLANE_') && e[1] !== undefined),
      ),
      stderr: 'pipe',
    });
    let uvxStderr = '';
    uvx.stderr?.on('data', (chunk: Buffer) => {
      uvxStderr = (uvxStderr + chunk.toString()).slice(-4000);
    });
    const documented = new Client({ name: 'plane-k3s-mcp-suite-uvx', version: '1' });
    await documented.connect(uvx).catch((error) => assert.fail(`${String(error)}: ${redact(uvxStderr).slice(-600)}`));
    try {
      const result: Data = await documented.callTool({ name: 'get_me', arguments: {} }, undefined, { timeout: 120_000 });
      assert.ok(!result.isError, redact(String(result.content?.[0]?.text).slice(0, 200)));
      assert.equal(dataOf(result).email, agent.email);
    } finally {
      await documented.close();
    }
  });

  it('reports its figures: start, memory, per-call overhead, the run', (t) => {
    const mem = memory();
    const unverified = new Set(
      toolTable()
        .filter((r) => r.status === 'not verified')
        .map((r) => r.call),
    );
    const verified = outcomes.filter((o) => !unverified.has(o.call));
    const works = verified.filter((o) => o.status === 'works').length;
    t.diagnostic(
      `${PLANE_MCP_SERVER.package} ${PLANE_MCP_SERVER.version}: ${listed.length} tools, ${outcomes.length} rows called: ${works} work, ` +
        `${verified.length - works} fail, ${outcomes.length - verified.length} not verified; calls took ${((figures.callsMs ?? 0) / 1000).toFixed(0)} s (${throttled.calls} answered 429, ` +
        `${throttled.waitedS} s waited${throttled.example ? `, e.g. "${throttled.example}"` : ''}); start ${figures.startMs} ms, start and tool list ${figures.startAndListMs} ms; ` +
        `get_me median ${figures.throughMs} ms through the server, ${figures.directMs} ms straight; ` +
        `server memory ${figures.idleRssMiB ?? '?'} MiB resident after start, ${mem ? `${mem.rss} MiB after the run, ${mem.peak} MiB peak` : 'not readable'}`,
    );
    assert.ok(!secrets.some((s) => stderr.includes(s)), "a token is in the server's stderr");
    // The run spends more than a minute's budget, so it meets the limit: as docs/agents.md quotes it.
    assert.ok(throttled.example.includes(THROTTLED), `a 429 reads "${throttled.example}"`);
    assert.ok(readAgentsDoc().includes(`\`${THROTTLED}\``), 'docs/agents.md quotes the 429');
  });

  function agrees(row: ToolRow | undefined, outcome: Outcome): boolean {
    if (!row) return false;
    if (row.status === 'not verified') return true;
    if (row.status !== outcome.status) return false;
    if (row.status === 'works') return true;
    const expected = expectedFailure(row);
    if (expected?.kind === 'wrong answer' || expected?.kind === 'response not understood') return outcome.why.startsWith(expected.kind);
    return (
      expected?.kind === 'http' &&
      outcome.why.startsWith(`HTTP ${expected.status}`) &&
      (!expected.noRoute || outcome.why.endsWith('no route'))
    );
  }

  function claimOf(row: ToolRow | undefined): string {
    return row ? `${row.status}${row.why ? ` (${row.why})` : ''}` : 'nothing (no row)';
  }
});
