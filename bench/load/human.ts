/**
 * One person browsing beside the agents: open the work items list (a full load), look at three work
 * items in the peek view, open one from a link (a full load), and again, with a pause between pages.
 */
import { BenchProject } from './mix';
import { UrlTransport } from './url-transport';
import { listPageLoad, loadPage, PageLoad, peekLoad, workItemPageLoad } from './web-ui';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface HumanOptions {
  readonly transport: UrlTransport;
  readonly cookie: string;
  readonly workspace: string;
  readonly project: BenchProject;
  /** Pause between two pages. */
  readonly thinkMs: number;
  readonly random: () => number;
}

/** Browses until `stop()` answers true (checked between pages); the page loads, in order. */
export async function browse(options: HumanOptions, stop: () => boolean): Promise<PageLoad[]> {
  const { transport, cookie, workspace, project, random } = options;
  const anyItem = () => project.workItems[Math.floor(random() * project.workItems.length)];
  const loads: PageLoad[] = [];
  const cycle = () => [
    listPageLoad(workspace, project),
    peekLoad(workspace, project, anyItem().id),
    peekLoad(workspace, project, anyItem().id),
    peekLoad(workspace, project, anyItem().id),
    workItemPageLoad(workspace, project, anyItem()),
  ];
  while (!stop()) {
    for (const page of cycle()) {
      if (stop()) break;
      loads.push(await loadPage(transport, cookie, page));
      await sleep(options.thinkMs);
    }
  }
  return loads;
}
