/** Shared test helpers: synthesize the stack in memory and walk its pod templates. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { parse, stringify } from 'yaml';
import { buildStack } from '../main';
import { DEFAULT_SITE_FILE, parseSiteConfig, SiteConfigError } from '../lib/config/load-site-config';
import { SiteConfig } from '../lib/config/site-config';
import { buildManifests } from '../lib/synth';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Any manifest, read loosely: tests check shapes themselves. */
export type Manifest = Record<string, any>;

export function defaultSiteYaml(): Record<string, unknown> {
  return parse(fs.readFileSync(DEFAULT_SITE_FILE, 'utf8'));
}

/** The problems the Javisi site with a change to its YAML tree is refused for; [] when it is accepted. */
export function siteProblems(change: (tree: Manifest) => void): string[] {
  const tree = defaultSiteYaml() as Manifest;
  change(tree);
  try {
    parseSiteConfig(stringify(tree), 'site.yaml');
    return [];
  } catch (error) {
    if (error instanceof SiteConfigError) return [...error.problems];
    throw error;
  }
}

/** The Javisi site with a change applied to its YAML tree, validated like any site file. */
export function siteWith(change: (tree: Manifest) => void = () => undefined): SiteConfig {
  const tree = defaultSiteYaml();
  change(tree);
  return parseSiteConfig(stringify(tree));
}

/** Sets a data service to a server elsewhere, dropping what only its in-cluster form uses. */
export function useExternal(tree: Manifest, service: 'postgres' | 'redis' | 'objectStore', external: Record<string, unknown>): void {
  for (const field of ['storage', 'resources', 'maxMemory']) delete tree.data[service][field];
  tree.data[service].external = external;
}

export function synth(site: SiteConfig = siteWith()): Manifest[] {
  return buildManifests(buildStack, site) as Manifest[];
}

export interface PodTemplateRef {
  readonly kind: string;
  readonly name: string;
  readonly workload: Manifest;
  readonly template: Manifest;
}

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'CronJob'];

/** Every pod template of the stack, whatever kind holds it. */
export function podTemplates(manifests: Manifest[]): PodTemplateRef[] {
  return manifests
    .filter((m) => WORKLOAD_KINDS.includes(m.kind))
    .map((m) => ({
      kind: m.kind,
      name: m.metadata.name,
      workload: m,
      template: m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template : m.spec.template,
    }));
}

export function containersOf(template: Manifest): Manifest[] {
  return [...(template.spec.initContainers ?? []), ...(template.spec.containers ?? [])];
}

/** The pod template of a component, by its app.kubernetes.io/name label. */
export function componentTemplate(manifests: Manifest[], component: string): PodTemplateRef {
  const found = podTemplates(manifests).find((p) => p.template.metadata?.labels?.['app.kubernetes.io/name'] === component);
  if (!found) throw new Error(`no workload for component ${component}`);
  return found;
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

export function checksumOf(ref: PodTemplateRef): string | undefined {
  return ref.template.metadata?.annotations?.['checksum/config'];
}

/** Every Plane and data component the stack must run. */
export const EXPECTED_COMPONENTS = [
  'web',
  'space',
  'admin',
  'live',
  'api',
  'worker',
  'beat-worker',
  'migrator',
  'postgres',
  'redis',
  'rabbitmq',
  'object-store',
  'caddy',
];

/** Expected shape of each generated Secret value (the formats of lib/plane/secrets/plane_k3s_secrets.py). */
export const GENERATED_FORMATS: Readonly<Record<string, RegExp>> = {
  hex16: /^[0-9a-f]{32}$/,
  hex24: /^[0-9a-f]{48}$/,
  hex32: /^[0-9a-f]{64}$/,
  'garage-key-id': /^GK[0-9a-f]{24}$/,
  'plane-api-token': /^plane_api_[0-9a-f]{32}$/,
};

/** What a finished process printed, and its exit code. */
export interface ProcessRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without blocking the event loop: a server in the test's own process may have to answer it. */
export function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv, input = ''): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 600_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** A TCP port free on 127.0.0.1 now (a test server binds it next). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
