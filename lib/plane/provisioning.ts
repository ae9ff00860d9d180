/**
 * What the provisioning Job converges Plane to (lib/plane/provision/plane_k3s_provision.py): the site's
 * instance name, workspace, admin and agents with Plane's names, and the private-instance settings.
 * The Job gets it as users.json in its ConfigMap, and each token from its Secret.
 */
import { SiteConfig } from '../config/site-config';
import { SecretKeyRef } from '../connections';
import { mountedScripts } from '../scripts';
import { adminApiKey, adminPassword, agentApiKey } from './connection-secrets';
import { instanceSettings } from './plane-env';
import { planeNames } from '../config/plane-names';

/** The repository folder of the provisioning's Python modules. */
export const PROVISION_FOLDER = 'lib/plane/provision';
export const PROVISION_MODULE = 'plane_k3s_provision';
/** Replaces the agents' tokens before they expire (the token-rotation CronJob); imports PROVISION_MODULE. */
export const ROTATE_TOKENS_MODULE = 'plane_k3s_rotate_tokens';
/** Overrides the spec's overlap for one run: 0 stops a replaced token at once (a leaked one). */
export const OVERLAP_OVERRIDE_VARIABLE = 'PLANE_K3S_TOKEN_OVERLAP_HOURS';
export const USERS_FILE = '/etc/plane-k3s/users.json';

export interface ProvisioningSpec {
  readonly instanceName: string;
  readonly workspace: { readonly slug: string; readonly name: string };
  readonly admin: ProvisionedPerson;
  readonly agents: (ProvisionedPerson & { readonly id: string })[];
  readonly instanceSettings: Record<string, string>;
  /** Instance.is_telemetry_enabled (its exporter points at loopback regardless). */
  readonly telemetry: boolean;
  /** The agents' tokens: their lifetime (null: never expire) and how long a replaced one keeps working. */
  readonly tokens: TokenPolicy;
}

export interface TokenPolicy {
  readonly lifetimeDays: number | null;
  readonly overlapHours: number;
}

export function tokenPolicy(site: SiteConfig): TokenPolicy {
  return { lifetimeDays: site.users.tokens.lifetimeDays ?? null, overlapHours: site.users.tokens.overlapHours };
}

interface ProvisionedPerson {
  readonly email: string;
  readonly displayName: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly role: string;
}

export function provisioningSpec(site: SiteConfig): ProvisioningSpec {
  const person = (p: SiteConfig['users']['admin']): ProvisionedPerson => ({
    email: p.email.toLowerCase(),
    role: p.role,
    ...planeNames(p).names,
  });
  return {
    instanceName: site.project.displayName,
    workspace: { ...site.plane.workspace },
    admin: person(site.users.admin),
    agents: site.users.agents.map((agent) => ({ id: agent.id, ...person(agent) })),
    instanceSettings: instanceSettings(site),
    telemetry: site.plane.access.telemetry,
    tokens: tokenPolicy(site),
  };
}

/** The environment variable holding an agent's token (as the Python module reads it). */
export function agentTokenVariable(id: string): string {
  return `PLANE_AGENT_API_KEY_${id.toUpperCase().replace(/-/g, '_')}`;
}

/** Secrets the Job reads: the admin's password and token, each agent's token. */
export function provisioningSecretEnv(site: SiteConfig): Record<string, SecretKeyRef> {
  return {
    PLANE_ADMIN_PASSWORD: adminPassword,
    PLANE_ADMIN_API_KEY: adminApiKey,
    ...Object.fromEntries(site.users.agents.map((agent) => [agentTokenVariable(agent.id), agentApiKey(agent.id)])),
  };
}

export function provisioningFiles(site: SiteConfig): Record<string, string> {
  return {
    ...mountedScripts(PROVISION_FOLDER, [`${PROVISION_MODULE}.py`]),
    [USERS_FILE]: `${JSON.stringify(provisioningSpec(site), null, 2)}\n`,
  };
}

/** A module's main() through Plane's own `manage.py shell`, once the database is migrated. */
export function managePyShell(module: string): string[] {
  return [
    '/bin/sh',
    '-ec',
    `python manage.py wait_for_db && python manage.py wait_for_migrations && exec python manage.py shell --command "import ${module}; ${module}.main()"`,
  ];
}

export const PROVISIONING_COMMAND = managePyShell(PROVISION_MODULE);
