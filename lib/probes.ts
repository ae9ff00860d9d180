/**
 * Probe sets. Liveness keeps the seed's healthcheck cadence (every 30 s, 10 s timeout, 3 failures);
 * readiness reacts faster; the startup probe holds the other two off until the process has started,
 * for as long as the component's `startupSeconds`.
 */
import { k8s } from 'cdk8s-plus-28';

export interface ProbeSet {
  readonly startupProbe: k8s.Probe;
  readonly readinessProbe: k8s.Probe;
  readonly livenessProbe: k8s.Probe;
}

const STARTUP_PERIOD_SECONDS = 10;

function probeSet(handler: Pick<k8s.Probe, 'httpGet' | 'exec' | 'tcpSocket'>, startupSeconds: number): ProbeSet {
  return {
    startupProbe: {
      ...handler,
      periodSeconds: STARTUP_PERIOD_SECONDS,
      timeoutSeconds: 5,
      failureThreshold: Math.ceil(startupSeconds / STARTUP_PERIOD_SECONDS),
    },
    readinessProbe: { ...handler, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    livenessProbe: { ...handler, periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3 },
  };
}

/** A container port by name ("http") or number. */
export type ProbePort = string | number;

function portOf(port: ProbePort): k8s.IntOrString {
  return typeof port === 'number' ? k8s.IntOrString.fromNumber(port) : k8s.IntOrString.fromString(port);
}

/**
 * HTTP GET on a container port. `hostHeader` is for servers that check Host (Django's ALLOWED_HOSTS):
 * the kubelet otherwise sends the pod IP.
 */
export function httpProbes(path: string, port: ProbePort, startupSeconds: number, hostHeader?: string): ProbeSet {
  const httpHeaders = hostHeader ? [{ name: 'Host', value: hostHeader }] : undefined;
  return probeSet({ httpGet: { path, port: portOf(port), httpHeaders } }, startupSeconds);
}

/** A command run in the container; exit 0 is healthy. */
export function execProbes(command: string[], startupSeconds: number): ProbeSet {
  return probeSet({ exec: { command } }, startupSeconds);
}

/** A TCP connect to a container port. */
export function tcpProbes(port: ProbePort, startupSeconds: number): ProbeSet {
  return probeSet({ tcpSocket: { port: portOf(port) } }, startupSeconds);
}
