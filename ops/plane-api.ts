/**
 * Plane's HTTP API through a forward to the api Service (or any transport with the same request, e.g.
 * the benchmark's to a base URL): the public API v1 with `X-Api-Key` (the only header Plane v1.2.2
 * authenticates), its routes, and the unauthenticated instance endpoint.
 */
import { Forward, HttpResponse } from './kube';

/** What PlaneApi sends its requests through: a Forward, or anything that requests the same way. */
export type PlaneTransport = Pick<Forward, 'request'>;

export interface PlaneUser {
  readonly id: string;
  readonly email: string;
  readonly display_name: string;
}

export interface WorkspaceMember extends PlaneUser {
  /** 20 Admin, 15 Member, 5 Guest. */
  readonly role: number;
}

export const PLANE_ROLES: Readonly<Record<string, number>> = { Admin: 20, Member: 15, Guest: 5 };

export class PlaneApiError extends Error {
  constructor(
    readonly status: number,
    what: string,
    body: string,
  ) {
    super(`${what} answered ${status}${body ? `: ${body.replace(/\s+/g, ' ').slice(0, 160)}` : ''}`);
  }
}

export class PlaneApi {
  /** @param host the app host: Django refuses a Host outside ALLOWED_HOSTS. */
  constructor(
    private readonly transport: PlaneTransport,
    private readonly host: string,
    readonly workspace: string,
  ) {}

  request(method: string, path: string, apiKey?: string, body?: unknown): Promise<HttpResponse> {
    const headers: Record<string, string> = { host: this.host, accept: 'application/json' };
    if (apiKey) headers['x-api-key'] = apiKey;
    return this.transport.request({ method, path, headers, body });
  }

  /** JSON of a request that must answer `expected` (else PlaneApiError). */
  async json<T>(method: string, path: string, apiKey: string | undefined, expected: number[], body?: unknown): Promise<T> {
    const response = await this.request(method, path, apiKey, body);
    if (!expected.includes(response.status)) throw new PlaneApiError(response.status, `${method} ${path}`, response.body);
    return (response.body ? JSON.parse(response.body) : undefined) as T;
  }

  get ws(): string {
    return `/api/v1/workspaces/${encodeURIComponent(this.workspace)}`;
  }

  /** The workspace's projects (`…/projects/`), or one project's path. */
  projectsPath(projectId?: string): string {
    return `${this.ws}/projects/${projectId ? `${projectId}/` : ''}`;
  }

  /** A project's work items (`…/work-items/`), or one work item's path. */
  workItemsPath(projectId: string, workItemId?: string): string {
    return `${this.projectsPath(projectId)}work-items/${workItemId ? `${workItemId}/` : ''}`;
  }

  /** A work item by its identifier (PROJ-12), as agents quote it. */
  workItemByKeyPath(projectIdentifier: string, sequenceId: number): string {
    return `${this.ws}/work-items/${projectIdentifier}-${sequenceId}/`;
  }

  commentsPath(projectId: string, workItemId: string): string {
    return `${this.workItemsPath(projectId, workItemId)}comments/`;
  }

  /** A project's `states/`, `labels/` or `members/`. */
  projectListPath(projectId: string, list: 'states' | 'labels' | 'members'): string {
    return `${this.projectsPath(projectId)}${list}/`;
  }

  membersPath(): string {
    return `${this.ws}/members/`;
  }

  me(apiKey: string): Promise<PlaneUser> {
    return this.json('GET', '/api/v1/users/me/', apiKey, [200]);
  }

  members(apiKey: string): Promise<WorkspaceMember[]> {
    return this.json('GET', this.membersPath(), apiKey, [200]);
  }

  instance(): Promise<{ config: Record<string, unknown>; instance: Record<string, unknown> }> {
    return this.json('GET', '/api/instances/', undefined, [200]);
  }
}
