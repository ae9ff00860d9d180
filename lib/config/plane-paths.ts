/**
 * First path segments Plane's proxy sends to its apps (lib/edge/plane-routes.ts routes them): an
 * uploads bucket with one of these names would be unreachable, so the schema refuses it.
 */
export const PLANE_PATH_SEGMENTS = ['spaces', 'god-mode', 'live', 'api', 'auth', 'static'] as const;
