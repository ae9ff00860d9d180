/**
 * The human's web UI traffic: what Plane v1.2.2's web app (apps/web) asks the api for when a page loads,
 * replayed with a signed-in session (Plane's app API, `/api/...`, cookie auth: API_KEY_RATE_LIMIT does
 * not apply). Each request waits for those the app waits for, the others go out together, as the app's
 * wrappers and SWR hooks send them:
 * - InstanceWrapper: `instances/`; AuthenticationWrapper: `users/me/`, then the profile, settings and
 *   workspaces (user store's fetchCurrentUser);
 * - WorkspaceAuthWrapper (core/layouts/auth-layout/workspace-wrapper.tsx): the user's membership, project
 *   roles, projects, members, favorites, states, sidebar and navigation preferences; its children (the
 *   sidebar's unread notifications, the page) once the membership is in;
 * - ProjectAuthWrapper (project-wrapper.tsx): the project, the user's project membership, preferences,
 *   labels, members, states, intake state, estimates, cycles, modules (two lists), views; its children
 *   once the project is in;
 * - the work items list (project-layout-root.tsx, base-list-root.tsx): the user's display filters, then
 *   the first 100 work items (list layout, the server's default display filters);
 * - a work item (issue.store.ts fetchIssue / fetchIssueWithIdentifier): the item with its reactions,
 *   attachments, links and parent, then its property history, comments, sub-items, relations and states.
 */
import { BenchProject } from './mix';
import { UrlTransport } from './url-transport';

/** One request of a page, and the requests (by id) whose answers it waits for. */
export interface PageRequest {
  readonly id: string;
  readonly path: string;
  readonly after: readonly string[];
}

export interface Page {
  readonly name: string;
  readonly requests: readonly PageRequest[];
}

const WORK_ITEM_EXPAND = 'expand=issue_reactions,issue_attachments,issue_link,parent';
/** A browser always sends one; Plane's sign-in stores it (a user without one cannot sign in: 500). */
const USER_AGENT = 'Mozilla/5.0 (plane-k3s bench: the web UI replayed)';

function bootstrap(slug: string): PageRequest[] {
  const ws = `/api/workspaces/${slug}`;
  const me = (id: string, path: string) => ({ id, path, after: ['me'] });
  const workspace = (id: string, path: string) => ({ id, path, after: ['workspaces'] });
  return [
    { id: 'instance', path: '/api/instances/', after: [] },
    { id: 'me', path: '/api/users/me/', after: ['instance'] },
    me('profile', '/api/users/me/profile/'),
    me('settings', '/api/users/me/settings/'),
    me('workspaces', '/api/users/me/workspaces/'),
    workspace('membership', `${ws}/workspace-members/me/`),
    workspace('project-roles', `/api/users/me/workspaces/${slug}/project-roles/`),
    workspace('projects', `${ws}/projects/`),
    workspace('members', `${ws}/members/`),
    workspace('favorites', `${ws}/user-favorites/`),
    workspace('workspace-states', `${ws}/states/`),
    workspace('sidebar-preferences', `${ws}/sidebar-preferences/`),
    workspace('navigation-preferences', `${ws}/user-properties/`),
    { id: 'unread', path: `${ws}/users/notifications/unread/`, after: ['membership'] },
  ];
}

/** ProjectAuthWrapper's requests, once `after` is in. */
function projectWrapper(slug: string, projectId: string, after: string): PageRequest[] {
  const p = `/api/workspaces/${slug}/projects/${projectId}`;
  const list: [string, string][] = [
    ['project', `${p}/`],
    ['project-membership', `${p}/project-members/me/`],
    ['project-preferences', `${p}/user-properties/`],
    ['labels', `${p}/issue-labels/`],
    ['project-members', `${p}/members/`],
    ['project-states', `${p}/states/`],
    ['intake-state', `${p}/intake-state/`],
    ['estimates', `${p}/estimates/`],
    ['cycles', `${p}/cycles/`],
    ['workspace-modules', `/api/workspaces/${slug}/modules/`],
    ['modules', `${p}/modules/`],
    ['views', `${p}/views/`],
  ];
  return list.map(([id, path]) => ({ id, path, after: [after] }));
}

function workItemFetches(slug: string, projectId: string, itemId: string, after: string): PageRequest[] {
  const item = `/api/workspaces/${slug}/projects/${projectId}/issues/${itemId}`;
  return [
    { id: 'property-history', path: `${item}/history/?activity_type=issue-property`, after: [after] },
    { id: 'comment-history', path: `${item}/history/?activity_type=issue-comment`, after: [after] },
    { id: 'sub-items', path: `${item}/sub-issues/`, after: [after] },
    { id: 'relations', path: `${item}/issue-relation/`, after: [after] },
    { id: 'item-states', path: `/api/workspaces/${slug}/projects/${projectId}/states/`, after: [after] },
  ];
}

/** The work items list opened from a link or a reload: the whole app boots. */
export function listPageLoad(slug: string, project: BenchProject): Page {
  const p = `/api/workspaces/${slug}/projects/${project.id}`;
  const listQuery = new URLSearchParams({
    order_by: '-created_at',
    sub_issue: 'true',
    filters: '{}',
    layout: 'list',
    cursor: '100:0:0',
    per_page: '100',
  });
  return {
    name: 'work items list (full load)',
    requests: [
      ...bootstrap(slug),
      ...projectWrapper(slug, project.id, 'membership'),
      { id: 'display-filters', path: `${p}/user-properties/`, after: ['project'] },
      { id: 'work-items', path: `${p}/issues/?${listQuery}`, after: ['display-filters'] },
    ],
  };
}

/** A work item opened in the list's peek view: the app is already loaded. */
export function peekLoad(slug: string, project: BenchProject, itemId: string): Page {
  return {
    name: 'work item (peek from the list)',
    requests: [
      { id: 'item', path: `/api/workspaces/${slug}/projects/${project.id}/issues/${itemId}/?${WORK_ITEM_EXPAND}`, after: [] },
      ...workItemFetches(slug, project.id, itemId, 'item'),
    ],
  };
}

/** A work item opened from a link (/<slug>/browse/PROJ-12/): the app boots, then the item and its project. */
export function workItemPageLoad(slug: string, project: BenchProject, item: { id: string; sequenceId: number }): Page {
  return {
    name: 'work item (full load)',
    requests: [
      ...bootstrap(slug),
      {
        id: 'item',
        path: `/api/workspaces/${slug}/work-items/${project.identifier}-${item.sequenceId}/?${WORK_ITEM_EXPAND}`,
        after: ['membership'],
      },
      ...workItemFetches(slug, project.id, item.id, 'item'),
      ...projectWrapper(slug, project.id, 'item'),
    ],
  };
}

export interface PageLoad {
  readonly page: string;
  readonly ms: number;
  readonly requests: number;
  /** Requests answered with anything but 2xx (a wrong replay shows here). */
  readonly failed: readonly string[];
}

/** Loads a page as the app does: each request once those it waits for are answered. */
export async function loadPage(transport: UrlTransport, cookie: string, page: Page): Promise<PageLoad> {
  const started = performance.now();
  const done = new Map<string, Promise<void>>();
  const failed: string[] = [];
  const run = (request: PageRequest): Promise<void> => {
    let promise = done.get(request.id);
    if (!promise) {
      const waits = request.after.map((id) => {
        const dependency = page.requests.find((r) => r.id === id);
        if (!dependency) throw new Error(`page ${page.name}: ${request.id} waits for ${id}, which it does not make`);
        return run(dependency);
      });
      promise = Promise.all(waits).then(async () => {
        try {
          const response = await transport.request({
            path: request.path,
            headers: { cookie, host: transport.host, accept: 'application/json', 'user-agent': USER_AGENT },
          });
          if (response.status < 200 || response.status >= 300) failed.push(`${request.id} ${response.status}`);
        } catch (error) {
          failed.push(`${request.id} ${(error as Error).message}`);
        }
      });
      done.set(request.id, promise);
    }
    return promise;
  };
  await Promise.all(page.requests.map(run));
  return { page: page.name, ms: performance.now() - started, requests: page.requests.length, failed };
}

export class SignInError extends Error {}

/**
 * Signs in through Plane's own form (`/auth/sign-in/`, with its CSRF token) and returns the session
 * cookie. The password is sent, never printed; a refusal names Plane's error code only.
 */
export async function signIn(transport: UrlTransport, email: string, password: string): Promise<string> {
  const csrf = await transport.request({ path: '/auth/get-csrf-token/', headers: { host: transport.host, 'user-agent': USER_AGENT } });
  if (csrf.status !== 200)
    throw new SignInError(`GET /auth/get-csrf-token/ answered ${csrf.status}: is ${transport.baseUrl.origin} Plane's api?`);
  const cookies = (value: string | string[] | undefined) =>
    (Array.isArray(value) ? value : value ? [value] : []).map((c) => c.split(';')[0]);
  const csrfCookie = cookies(csrf.headers['set-cookie']).join('; ');
  const { csrf_token: csrfToken } = JSON.parse(csrf.body) as { csrf_token: string };
  const answer = await transport.request({
    method: 'POST',
    path: '/auth/sign-in/',
    headers: {
      host: transport.host,
      'user-agent': USER_AGENT,
      cookie: csrfCookie,
      referer: `${transport.baseUrl.origin}/`,
      origin: transport.baseUrl.origin,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ csrfmiddlewaretoken: csrfToken, email, password }).toString(),
  });
  const location = String(answer.headers.location ?? '');
  const session = cookies(answer.headers['set-cookie']).find((c) => c.startsWith('session-id='));
  if (answer.status !== 302 || !session) {
    const code = /error_message=([A-Z_]+)/.exec(location)?.[1];
    throw new SignInError(
      `sign-in as ${email} refused (${answer.status}${code ? `, ${code}` : ''}): check --ui-email and PLANE_BENCH_UI_PASSWORD`,
    );
  }
  return session;
}

/** The signed-in user, as the app's `users/me/` gives it. */
export async function signedInUser(transport: UrlTransport, cookie: string): Promise<{ id: string; email: string }> {
  const answer = await transport.request({
    path: '/api/users/me/',
    headers: { cookie, host: transport.host, accept: 'application/json', 'user-agent': USER_AGENT },
  });
  if (answer.status !== 200) throw new SignInError(`GET /api/users/me/ with the new session answered ${answer.status}`);
  return JSON.parse(answer.body) as { id: string; email: string };
}
