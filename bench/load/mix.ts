/**
 * What ten agents working a project ask Plane's public API, by share of calls: mostly paged lists of
 * work items, then reads, creates, state changes and comments, and the project's lists (projects,
 * states, members, labels). The routes are PlaneApi's.
 */
import { PlaneApi } from '../../ops/plane-api';

/** The project the bench works in: its states and work items (creates add to them). */
export interface BenchProject {
  readonly id: string;
  readonly identifier: string;
  readonly stateIds: readonly string[];
  readonly workItems: { readonly id: string; readonly sequenceId: number }[];
  /** The work items the runs created, with the token that did (the one allowed to delete it). */
  readonly created: { readonly id: string; readonly token: string }[];
}

export interface Call {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** A page size agents are told to use (docs/agents.md, "Be gentle with the shared api"). */
export const PAGE_SIZE = 50;

export interface CallKind {
  /** Its short name in the figures. */
  readonly kind: string;
  readonly what: string;
  /** Share of the calls, in percent. */
  readonly weight: number;
  make(api: PlaneApi, project: BenchProject, random: () => number): Omit<Call, 'kind'>;
}

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)];

const description = (n: number) =>
  `<p>Work item ${n} of the agent bench: ${'an agent wrote this description while it worked the task; '.repeat(6)}</p>` +
  '<ul><li>acceptance: the change is reviewed</li><li>acceptance: the docs say how</li></ul>';

export function newWorkItem(random: () => number, n: number, stateIds: readonly string[]): Record<string, unknown> {
  return {
    name: `Bench work item ${n}`,
    description_html: description(n),
    priority: pick(['urgent', 'high', 'medium', 'low', 'none'], random),
    state: pick(stateIds, random),
  };
}

export const AGENT_MIX: readonly CallKind[] = [
  {
    kind: 'list',
    what: 'list work items (paged)',
    weight: 35,
    make: (api, project, random) => {
      const pages = Math.max(1, Math.ceil(project.workItems.length / PAGE_SIZE));
      const page = Math.floor(random() * pages);
      return { method: 'GET', path: `${api.workItemsPath(project.id)}?per_page=${PAGE_SIZE}&cursor=${PAGE_SIZE}:${page}:0` };
    },
  },
  {
    kind: 'read',
    what: 'read a work item',
    weight: 20,
    make: (api, project, random) => {
      const item = pick(project.workItems, random);
      // Agents quote work items by key (PROJ-12) as often as by id.
      const path = random() < 0.5 ? api.workItemsPath(project.id, item.id) : api.workItemByKeyPath(project.identifier, item.sequenceId);
      return { method: 'GET', path };
    },
  },
  {
    kind: 'create',
    what: 'create a work item',
    weight: 10,
    make: (api, project, random) => ({
      method: 'POST',
      path: api.workItemsPath(project.id),
      body: newWorkItem(random, project.workItems.length + 1, project.stateIds),
    }),
  },
  {
    kind: 'update state',
    what: "change a work item's state",
    weight: 10,
    make: (api, project, random) => ({
      method: 'PATCH',
      path: api.workItemsPath(project.id, pick(project.workItems, random).id),
      body: { state: pick(project.stateIds, random) },
    }),
  },
  {
    kind: 'comment',
    what: 'comment on a work item',
    weight: 10,
    make: (api, project, random) => ({
      method: 'POST',
      path: api.commentsPath(project.id, pick(project.workItems, random).id),
      body: { comment_html: '<p>Progress: the agent ran the checks; two pass, one needs a look.</p>' },
    }),
  },
  {
    kind: 'projects',
    what: 'list projects',
    weight: 5,
    make: (api) => ({ method: 'GET', path: api.projectsPath() }),
  },
  {
    kind: 'states',
    what: "list the project's states",
    weight: 5,
    make: (api, project) => ({ method: 'GET', path: api.projectListPath(project.id, 'states') }),
  },
  {
    kind: 'members/labels',
    what: 'list members or labels',
    weight: 5,
    make: (api, project, random) =>
      random() < 0.5 ? { method: 'GET', path: api.membersPath() } : { method: 'GET', path: api.projectListPath(project.id, 'labels') },
  },
];

/** The next call of the mix, drawn by weight. */
export function drawCall(api: PlaneApi, project: BenchProject, random: () => number, mix: readonly CallKind[] = AGENT_MIX): Call {
  const total = mix.reduce((sum, k) => sum + k.weight, 0);
  let roll = random() * total;
  for (const k of mix) {
    roll -= k.weight;
    if (roll < 0) return { kind: k.kind, ...k.make(api, project, random) };
  }
  const last = mix[mix.length - 1];
  return { kind: last.kind, ...last.make(api, project, random) };
}

/** A small seeded generator (mulberry32): the same --seed draws the same calls. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
