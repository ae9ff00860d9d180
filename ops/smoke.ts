/**
 * `plane-k3s smoke`: the seed's functional test through Plane's public API. As the admin: project
 * "VPAI" (reused when it exists), the builder agent made a project member (Plane drops assignees who are
 * not), a work item assigned to it; then the builder reads it back with its own token. The work item
 * is deleted afterwards unless --keep; the project stays, for the next run: deleting it right after
 * would race Plane's activity task for the work item, which then logs an ERROR in the worker
 * ("Project matching query does not exist", seen on the real backend) and fails verify's log check.
 */
import { adminApiKey, agentApiKey } from '../lib/plane/connection-secrets';
import { OpsContext } from './context';
import { PlaneApi } from './plane-api';
import { CheckResult, fail, pass, Skipped, Step } from './report';

export interface SmokeOptions {
  readonly project: string;
  readonly assignee: string;
  readonly keep: boolean;
}

interface Project {
  readonly id: string;
  readonly identifier: string;
  readonly name: string;
}
interface WorkItem {
  readonly id: string;
  readonly sequence_id: number;
  readonly assignees: string[];
  readonly name: string;
}

export function smokeSteps(ctx: OpsContext, options: SmokeOptions): Step[] {
  const { stack } = ctx;
  const ns = stack.namespace;
  const agent = stack.users.agents.find((a) => a.id === options.assignee);
  const state: {
    api?: PlaneApi;
    close?: () => Promise<void>;
    admin?: string;
    agentKey?: string;
    agentId?: string;
    project?: Project;
    createdProject?: boolean;
    item?: WorkItem;
  } = {};
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Skipped(`not run: ${what} failed`);
    return value;
  };
  const steps: Step[] = [
    {
      id: 'smoke/connect',
      title: "connect to Plane's api and read the tokens",
      fix: `kubectl -n ${ns} get pods; plane-k3s verify`,
      run: async () => {
        if (!agent)
          throw new Error(`no agent "${options.assignee}" in the site (agents: ${stack.users.agents.map((a) => a.id).join(', ')})`);
        const forward = await ctx.kube.forwardService(ns, stack.apiService.name, stack.apiService.port);
        state.close = () => forward.close();
        state.api = new PlaneApi(forward, stack.appHost, stack.users.workspace.slug);
        state.admin = await ctx.secretValue(adminApiKey);
        state.agentKey = await ctx.secretValue(agentApiKey(agent.id));
        const me = await state.api.me(state.agentKey);
        state.agentId = me.id;
        return [pass('smoke/connect', `through ${forward.pod}; ${agent.id} is ${me.email}`)];
      },
    },
    {
      id: 'smoke/project',
      title: `project ${options.project}`,
      run: async () => {
        const api = need(state.api, 'connect');
        const projects = await api.json<{ results: Project[] }>('GET', `${api.projectsPath()}?per_page=100`, state.admin, [200]);
        state.project = projects.results.find((p) => p.identifier === options.project);
        if (state.project) return [pass('smoke/project', `${options.project} exists (${state.project.id}), reused`)];
        state.project = await api.json<Project>('POST', api.projectsPath(), state.admin, [201], {
          name: options.project,
          identifier: options.project,
        });
        state.createdProject = true;
        return [pass('smoke/project', `${options.project} created (${state.project.id})`)];
      },
    },
    {
      id: 'smoke/member',
      title: `${options.assignee} a member of the project`,
      run: async () => {
        const api = need(state.api, 'connect');
        const project = need(state.project, 'project');
        const path = api.projectListPath(project.id, 'members');
        const members = await api.json<{ id: string }[]>('GET', path, state.admin, [200]);
        if (members.some((m) => m.id === state.agentId)) return [pass('smoke/member', `${options.assignee} already a member`)];
        await api.json('POST', path, state.admin, [201], { member: state.agentId, role: 15 });
        return [pass('smoke/member', `${options.assignee} added as Member`)];
      },
    },
    {
      id: 'smoke/work-item',
      title: `a work item assigned to ${options.assignee}`,
      run: async () => {
        const api = need(state.api, 'connect');
        const project = need(state.project, 'project');
        const name = `plane-k3s smoke test ${new Date().toISOString()}`;
        state.item = await api.json<WorkItem>('POST', api.workItemsPath(project.id), state.admin, [201], {
          name,
          assignees: [state.agentId],
        });
        if (!state.item.assignees.includes(need(state.agentId, 'connect'))) {
          return [
            fail(
              'smoke/work-item',
              `${project.identifier}-${state.item.sequence_id} created without its assignee`,
              `is ${options.assignee} an active project member with role ≥ 15?`,
            ),
          ];
        }
        return [pass('smoke/work-item', `${project.identifier}-${state.item.sequence_id} created, assigned to ${options.assignee}`)];
      },
    },
    {
      id: 'smoke/read-back',
      title: `read back with ${options.assignee}'s own token`,
      run: async () => {
        const api = need(state.api, 'connect');
        const project = need(state.project, 'project');
        const item = need(state.item, 'work item');
        const read = await api.json<WorkItem>('GET', api.workItemsPath(project.id, item.id), state.agentKey, [200]);
        if (read.id !== item.id || !read.assignees.includes(need(state.agentId, 'connect'))) {
          return [fail('smoke/read-back', `read ${read.id} with assignees ${read.assignees.length}`, "see Plane's api logs")];
        }
        return [pass('smoke/read-back', `${project.identifier}-${read.sequence_id} read by ${options.assignee} (200), assigned to it`)];
      },
    },
    {
      id: 'smoke/cleanup',
      title: options.keep ? 'keep what was created (--keep)' : 'delete what this run created',
      run: async () => {
        const results: CheckResult[] = [];
        try {
          if (options.keep || !state.api || !state.project) {
            const kept = [
              state.item ? `${state.project?.identifier}-${state.item.sequence_id}` : '',
              state.createdProject ? `project ${state.project?.identifier}` : '',
            ].filter(Boolean);
            if (options.keep && kept.length) results.push(pass('smoke/cleanup', `kept ${kept.join(' and ')}`));
            return results;
          }
          const api = state.api;
          const deleted: string[] = [];
          if (state.item) {
            await api.json('DELETE', api.workItemsPath(state.project.id, state.item.id), state.admin, [204]);
            deleted.push(`${state.project.identifier}-${state.item.sequence_id}`);
          }
          const kept = `project ${state.project.identifier} kept for the next run`;
          results.push(pass('smoke/cleanup', deleted.length ? `deleted ${deleted.join(' and ')}; ${kept}` : `nothing to delete; ${kept}`));
          return results;
        } finally {
          await state.close?.();
        }
      },
    },
  ];
  return steps;
}
