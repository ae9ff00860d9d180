/**
 * docs/agents.md's table of the MCP server's tools, parsed: the one list of which tools work on Plane
 * v1.2.2. test/plane/mcp.test.ts calls every row on the real backend and fails when a row says otherwise;
 * test/agents-doc.test.ts checks the table's form and the names around it. Nothing here retypes a row.
 */
import { codeBlocks, readDoc, section } from './readme';

export const AGENTS_DOC = 'docs/agents.md';
export const TOOL_TABLE_HEADING = '### Every tool on Plane v1.2.2';
export const STATUSES = ['works', 'fails', 'not verified'] as const;
export type ToolStatus = (typeof STATUSES)[number];

export interface ToolRow {
  /** The first cell without its backticks: the tool, then how it is called when it has more than one row. */
  readonly call: string;
  /** The tool's name (the first cell's code span). */
  readonly tool: string;
  readonly status: ToolStatus;
  /** Why it fails (or is not verified); empty for a tool that works. */
  readonly why: string;
  /** 1-based line in docs/agents.md, for the messages. */
  readonly line: number;
}

/**
 * What a failing row claims, read from the start of its "why": `HTTP 404, no route …` (Plane's URL
 * resolver: the route does not exist in v1.2.2), `HTTP nnn …` (the route answered nnn), `response not
 * understood …` (Plane answered, but the server's models reject the answer's shape), or `wrong answer …`
 * (the tool answers without error, but not what was asked).
 */
export type ExpectedFailure =
  | { readonly kind: 'http'; readonly status: number; readonly noRoute: boolean }
  | { readonly kind: 'response not understood' }
  | { readonly kind: 'wrong answer' };

export function expectedFailure(row: ToolRow): ExpectedFailure | undefined {
  const http = /^HTTP (\d{3})\b(,? no route)?/.exec(row.why);
  if (http) return { kind: 'http', status: Number(http[1]), noRoute: Boolean(http[2]) };
  if (row.why.startsWith('wrong answer')) return { kind: 'wrong answer' };
  if (row.why.startsWith('response not understood')) return { kind: 'response not understood' };
  return undefined;
}

export function readAgentsDoc(): string {
  return readDoc(AGENTS_DOC);
}

/** The body rows of the table in `heading`'s section, as trimmed cells with their line. */
function tableRows(markdown: string, heading: string): { cells: string[]; line: number }[] {
  const { text, line: first } = section(markdown, heading);
  const rows: { cells: string[]; line: number }[] = [];
  let header = true;
  text.split('\n').forEach((raw, index) => {
    if (!raw.startsWith('|')) return;
    const cells = raw
      .slice(1, raw.endsWith('|') ? -1 : undefined)
      .split('|')
      .map((c) => c.trim());
    if (header) {
      if (/^-+$/.test(cells[0])) header = false;
      return;
    }
    rows.push({ cells, line: first + index });
  });
  return rows;
}

/** A row's tool, status and why (the cells after any release); throws one line naming what is wrong. */
function toolRow([call, claimed, why]: string[], line: number): ToolRow {
  const tool = /^`([a-z_]+)`/.exec(call)?.[1];
  if (!tool) throw new Error(`${AGENTS_DOC}:${line}: the first cell starts with the tool's name in backticks`);
  const status = claimed as ToolStatus;
  if (!STATUSES.includes(status)) throw new Error(`${AGENTS_DOC}:${line}: "${claimed}" is not one of ${STATUSES.join(', ')}`);
  if (status === 'works' && why) throw new Error(`${AGENTS_DOC}:${line}: a tool that works needs no why`);
  const row: ToolRow = { call: call.replace(/`/g, '').replace(/\s+/g, ' '), tool, status, why, line };
  if (status === 'fails' && !expectedFailure(row))
    throw new Error(`${AGENTS_DOC}:${line}: a failing tool's why starts with "HTTP nnn", "response not understood" or "wrong answer"`);
  if (status === 'not verified' && !why) throw new Error(`${AGENTS_DOC}:${line}: say why the tool is not verified`);
  return row;
}

/** The rows of the tool table; throws one line naming the first malformed row. */
export function toolTable(markdown = readAgentsDoc()): ToolRow[] {
  return tableRows(markdown, TOOL_TABLE_HEADING).map(({ cells, line }) => {
    if (cells.length !== 3) throw new Error(`${AGENTS_DOC}:${line}: a tool row has 3 cells (tool | on v1.2.2 | why), not ${cells.length}`);
    return toolRow(cells, line);
  });
}

/** The release the tool table was run on (its heading says it). */
export const TOOL_TABLE_RELEASE = /v\d+\.\d+\.\d+$/.exec(TOOL_TABLE_HEADING)?.[0] as string;
export const RELEASE_DIFFERENCES_HEADING = '### Where the other supported releases differ';

/**
 * The rows another supported release answers otherwise than the tool table (release | tool | there | why),
 * by release: test/plane/mcp.test.ts expects the table with these rows replaced when its backend runs that release.
 */
export function releaseDifferences(markdown = readAgentsDoc()): Map<string, ToolRow[]> {
  const byRelease = new Map<string, ToolRow[]>();
  for (const { cells, line } of tableRows(markdown, RELEASE_DIFFERENCES_HEADING)) {
    if (cells.length !== 4) throw new Error(`${AGENTS_DOC}:${line}: a row has 4 cells (release | tool | there | why), not ${cells.length}`);
    const [release, ...rest] = cells;
    if (!/^v\d+\.\d+\.\d+$/.test(release)) throw new Error(`${AGENTS_DOC}:${line}: "${release}" is not a release such as v1.3.1`);
    byRelease.set(release, [...(byRelease.get(release) ?? []), toolRow(rest, line)]);
  }
  return byRelease;
}

/** The tool table as a release answers it: its rows, those the release changes replaced. */
export function toolTableFor(release: string, markdown = readAgentsDoc()): ToolRow[] {
  const changed = new Map((releaseDifferences(markdown).get(release) ?? []).map((r) => [r.call, r]));
  return toolTable(markdown).map((row) => changed.get(row.call) ?? row);
}

/** The MCP client configuration docs/agents.md gives (its one `json` block with `mcpServers`). */
export interface McpLaunch {
  readonly command: string;
  readonly args: readonly string[];
  /** The whole server entry, to check that it holds nothing else (no `env` with a token). */
  readonly entry: Record<string, unknown>;
}

export function documentedLaunch(markdown = readAgentsDoc()): McpLaunch {
  const blocks = codeBlocks(markdown).filter((b) => b.lang === 'json' && b.text.includes('mcpServers'));
  if (blocks.length !== 1) throw new Error(`${AGENTS_DOC}: ${blocks.length} json blocks with mcpServers, expected one`);
  const servers = JSON.parse(blocks[0].text).mcpServers as Record<string, Record<string, unknown>>;
  const entries = Object.values(servers);
  if (entries.length !== 1) throw new Error(`${AGENTS_DOC}:${blocks[0].line}: one server, not ${entries.length}`);
  const entry = entries[0];
  return { command: String(entry.command), args: (entry.args as unknown[]).map(String), entry };
}
