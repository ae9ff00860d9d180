/**
 * The bench's project, made through Plane's public API with the agents' own tokens (so it works against
 * any deployment the developer points the bench at) and only where missing: the project, every agent a
 * member of it, a few labels, and work items up to the number asked. Calls wait as a well-behaved agent
 * does: on 429, exactly the Retry-After Plane sends.
 */
import { HttpResponse } from '../../ops/kube';
import { PlaneApi, PlaneApiError } from '../../ops/plane-api';
import { BenchProject, newWorkItem } from './mix';

const LABELS = ['bug', 'feature', 'chore', 'docs'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds a 429 asks to wait (Retry-After, whole seconds in Plane v1.2.2); 1 when it names none. */
export function retryAfterSeconds(response: Pick<HttpResponse, 'headers'>): number {
  const value = Number(response.headers['retry-after']);
  return Number.isFinite(value) && value >= 0 ? value : 1;
}

/** A call that waits out 429s as Retry-After says, then must answer one of `expected`. */
export async function politeJson<T>(
  api: PlaneApi,
  method: string,
  path: string,
  apiKey: string,
  expected: number[],
  body?: unknown,
): Promise<T> {
  for (;;) {
    const response = await api.request(method, path, apiKey, body);
    if (response.status === 429) {
      await sleep(retryAfterSeconds(response) * 1000);
      continue;
    }
    if (!expected.includes(response.status)) throw new PlaneApiError(response.status, `${method} ${path}`, response.body);
    return (response.body ? JSON.parse(response.body) : undefined) as T;
  }
}

interface Page<T> {
  readonly results: T[];
  readonly next_page_results: boolean;
}

/** Every item of a paged v1 list, 100 a page. */
async function allPages<T>(api: PlaneApi, path: string, apiKey: string): Promise<T[]> {
  const items: T[] = [];
  for (let page = 0; ; page++) {
    const answer = await politeJson<Page<T>>(api, 'GET', `${path}?per_page=100&cursor=100:${page}:0`, apiKey, [200]);
    items.push(...answer.results);
    if (!answer.next_page_results) return items;
  }
}

export interface SeedOptions {
  readonly identifier: string;
  readonly items: number;
  readonly random: () => number;
  readonly log: (line: string) => void;
  /** Users (ids) who join the project as its admins: the person whose web UI the bench replays. @default none */
  readonly admins?: readonly string[];
}

/** The bench's project with at least `items` work items; the first token's user owns it. */
export async function seedProject(api: PlaneApi, tokens: readonly string[], options: SeedOptions): Promise<BenchProject> {
  const [owner] = tokens;
  const projects = await allPages<{ id: string; identifier: string }>(api, api.projectsPath(), owner);
  let project = projects.find((p) => p.identifier === options.identifier);
  if (!project) {
    project = await politeJson<{ id: string; identifier: string }>(api, 'POST', api.projectsPath(), owner, [201], {
      name: `Agent bench ${options.identifier}`,
      identifier: options.identifier,
    });
    options.log(`project ${options.identifier} created`);
  }
  const projectId = project.id;

  const membersPath = api.projectListPath(projectId, 'members');
  const members = new Set((await politeJson<{ id: string }[]>(api, 'GET', membersPath, owner, [200])).map((m) => m.id));
  const users = await Promise.all(tokens.map((token) => api.me(token)));
  const missing = users.filter((u) => !members.has(u.id));
  for (const user of missing) await politeJson(api, 'POST', membersPath, owner, [201], { member: user.id, role: 15 });
  if (missing.length) options.log(`${missing.length} agents made members of ${options.identifier}`);
  for (const admin of (options.admins ?? []).filter((id) => !members.has(id))) {
    await politeJson(api, 'POST', membersPath, owner, [201], { member: admin, role: 20 });
    options.log(`the web UI's user made an admin of ${options.identifier}`);
  }

  const labelsPath = api.projectListPath(projectId, 'labels');
  const labels = new Set((await allPages<{ name: string }>(api, labelsPath, owner)).map((l) => l.name));
  for (const name of LABELS.filter((l) => !labels.has(l))) await politeJson(api, 'POST', labelsPath, owner, [201], { name });

  const states = await allPages<{ id: string }>(api, api.projectListPath(projectId, 'states'), owner);
  const stateIds = states.map((s) => s.id);
  const workItems = (await allPages<{ id: string; sequence_id: number }>(api, api.workItemsPath(projectId), owner)).map((w) => ({
    id: w.id,
    sequenceId: w.sequence_id,
  }));

  const toCreate = Math.max(0, options.items - workItems.length);
  if (toCreate) {
    options.log(`creating ${toCreate} work items with ${tokens.length} tokens (each waits out its 429s)`);
    let next = 0;
    await Promise.all(
      tokens.map(async (token) => {
        while (next < toCreate) {
          next++;
          const created = await politeJson<{ id: string; sequence_id: number }>(
            api,
            'POST',
            api.workItemsPath(projectId),
            token,
            [201],
            newWorkItem(options.random, workItems.length + 1, stateIds),
          );
          workItems.push({ id: created.id, sequenceId: created.sequence_id });
        }
      }),
    );
  }
  return { id: projectId, identifier: options.identifier, stateIds, workItems, created: [] };
}

/**
 * Deletes the work items the runs created, each with the token that created it (Plane lets the creator
 * delete), so that every run starts from the project the seed made.
 */
export async function removeCreated(api: PlaneApi, project: BenchProject): Promise<number> {
  const byToken = new Map<string, string[]>();
  for (const { id, token } of project.created) byToken.set(token, [...(byToken.get(token) ?? []), id]);
  await Promise.all(
    [...byToken].map(async ([token, ids]) => {
      for (const id of ids) await politeJson(api, 'DELETE', api.workItemsPath(project.id, id), token, [204, 404]);
    }),
  );
  const removed = new Set(project.created.map((c) => c.id));
  project.workItems.splice(0, project.workItems.length, ...project.workItems.filter((w) => !removed.has(w.id)));
  const count = project.created.length;
  project.created.length = 0;
  return count;
}
