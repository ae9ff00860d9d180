/**
 * The release of Plane's MCP server (PyPI `plane-mcp-server`) that agents run against this stack's Plane
 * v1.2.2: the one place it is pinned. tools/mcp/install.sh reads the version from this file, the suite
 * test/plane/mcp.test.ts drives that release, and docs/agents.md names it (a test checks both).
 *
 * Why 0.2.9: it is the newest release whose core tools (projects, work items, states, labels, comments,
 * members) answer on v1.2.2. From 0.2.10 on, list_projects, get_workspace_members, get_project_members,
 * list_cycles and list_modules call Plane's `*-lite` routes (plane-sdk 0.2.19's `list_lite`,
 * `get_members_lite`), which v1.2.2 does not have: they answer 404, and 0.3.x keeps them. The release
 * pins the parts that talk to Plane exactly (fastmcp 3.2.0, mcp 1.26.0, plane-sdk 0.2.16), so the
 * version pin fixes what the suite tested.
 */

export interface McpServerRelease {
  /** The PyPI project. */
  readonly package: string;
  /** The exact release (PEP 440), as `pip install <package>==<version>` takes it. */
  readonly version: string;
  /** The release's Requires-Python (its wheel's metadata): the installer refuses an older interpreter. */
  readonly requiresPython: string;
  /** The console script the release installs; it serves stdio when started without arguments. */
  readonly command: string;
}

export const PLANE_MCP_SERVER: McpServerRelease = {
  package: 'plane-mcp-server',
  version: '0.2.9',
  requiresPython: '>=3.10',
  command: 'plane-mcp-server',
};

/** `plane-mcp-server==0.2.9`: the requirement pip and uvx take. */
export const PLANE_MCP_REQUIREMENT = `${PLANE_MCP_SERVER.package}==${PLANE_MCP_SERVER.version}`;
