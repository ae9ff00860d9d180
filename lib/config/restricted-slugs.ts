/**
 * Workspace slugs Plane v1.2.2 refuses (RESTRICTED_WORKSPACE_SLUGS in apps/api/plane/utils/constants.py):
 * they collide with the web app's own routes. The schema refuses them before Plane would.
 */
export const RESTRICTED_WORKSPACE_SLUGS: readonly string[] = [
  '404', 'accounts', 'api', 'create-workspace', 'god-mode', 'installations', 'invitations', 'onboarding', 'profile',
  'spaces', 'workspace-invitations', 'password', 'flags', 'monitor', 'monitoring', 'ingest', 'plane-pro',
  'plane-ultimate', 'enterprise', 'plane-enterprise', 'disco', 'silo', 'chat', 'calendar', 'drive', 'channels',
  'upgrade', 'billing', 'sign-in', 'sign-up', 'signin', 'signup', 'config', 'live', 'admin', 'm', 'import',
  'importers', 'integrations', 'integration', 'configuration', 'initiatives', 'initiative', 'workflow', 'workflows',
  'epics', 'epic', 'story', 'mobile', 'dashboard', 'desktop', 'onload', 'real-time', 'one', 'pages', 'business',
  'pro', 'settings', 'license', 'licenses', 'instances', 'instance',
];
