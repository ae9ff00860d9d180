/**
 * The Secrets that hold how the admin and each agent reach Plane: one per person, in the environment
 * shape of Plane's MCP server (PLANE_API_KEY, PLANE_BASE_URL, PLANE_WORKSPACE_SLUG), so an agent's pod
 * can `envFrom` it. The token is generated in the cluster and written into Plane by the provisioning
 * Job; it is never read out of Plane.
 */
import { SiteConfig } from '../config/site-config';
import { SecretKeyRef, SecretKeySource } from '../connections';
import { appUrl, objectName } from '../site';

export const API_KEY = 'PLANE_API_KEY';
export const BASE_URL_KEY = 'PLANE_BASE_URL';
export const WORKSPACE_SLUG_KEY = 'PLANE_WORKSPACE_SLUG';
/** The admin's initial password (Plane's sign-in); the admin changes it in Plane's profile. */
export const ADMIN_PASSWORD_KEY = 'password';

export const ADMIN_SECRET = objectName('admin');

export function agentSecretName(id: string): string {
  return objectName(`agent-${id}`);
}

export const adminApiKey: SecretKeyRef = { secretName: ADMIN_SECRET, key: API_KEY };
export const adminPassword: SecretKeyRef = { secretName: ADMIN_SECRET, key: ADMIN_PASSWORD_KEY };
export const agentApiKey = (id: string): SecretKeyRef => ({ secretName: agentSecretName(id), key: API_KEY });

/** The connection Secrets of the admin and the agents, as the bootstrap Job makes them. */
export function connectionSecretKeys(site: SiteConfig): SecretKeySource[] {
  const connection = (secretName: string): SecretKeySource[] => [
    { ref: { secretName, key: API_KEY }, generate: 'plane-api-token' },
    // The public URL: agents inside the cluster reach it through Caddy (split DNS), outside through the VPN.
    { ref: { secretName, key: BASE_URL_KEY }, value: appUrl(site) },
    { ref: { secretName, key: WORKSPACE_SLUG_KEY }, value: site.plane.workspace.slug },
  ];
  return [
    ...connection(ADMIN_SECRET),
    { ref: adminPassword, generate: 'hex16' },
    ...site.users.agents.flatMap((agent) => connection(agentSecretName(agent.id))),
  ];
}
