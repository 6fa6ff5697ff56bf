/**
 * Jest matchers on the traffic model:
 *
 *   expect(chart).toAllowTraffic({ workload: 'planner' }, { service: 'researcher', port: 'http' });
 *   expect(objects).toDenyTraffic({ pod: { namespace: 'web' } }, { service: 'planner', port: 8080 });
 *
 * The received value is a Chart, App, synthObjects() result, object list or a TrafficModel
 * (build one model and reuse it when checking many flows).
 */
import type { ManifestInput } from '../synth';
import { explain, TrafficModel } from './model';
import type { TrafficDestination, TrafficModelOptions, TrafficSource } from './types';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      /** The traffic model allows the flow (every backing workload admits it). */
      toAllowTraffic(source: TrafficSource, destination: TrafficDestination, options?: TrafficModelOptions): R;
      /** The traffic model denies the flow. */
      toDenyTraffic(source: TrafficSource, destination: TrafficDestination, options?: TrafficModelOptions): R;
    }
  }
}

function modelOf(received: ManifestInput | TrafficModel, options?: TrafficModelOptions): TrafficModel {
  if (received instanceof TrafficModel) {
    if (options) throw new Error('toAllowTraffic/toDenyTraffic: pass options to new TrafficModel(), not to the matcher, when the received value is a model');
    return received;
  }
  return new TrafficModel(received, options);
}

function flowName(source: TrafficSource, destination: TrafficDestination): string {
  const from = 'workload' in source ? source.workload : 'pod' in source ? source.pod.name ?? `${source.pod.namespace}/${source.pod.serviceAccount ?? 'default'} (${source.pod.mesh ?? 'none'})` : source.external.name ?? source.external.ip;
  const to = 'host' in destination
    ? `${destination.host}:${destination.port ?? 443}`
    : `${destination.service}:${destination.port}${destination.path ? ` ${destination.method ?? 'GET'} ${destination.path}` : ''}`;
  return `${from} -> ${to}`;
}

function check(expectAllowed: boolean, received: ManifestInput | TrafficModel, source: TrafficSource, destination: TrafficDestination, options?: TrafficModelOptions) {
  const decision = modelOf(received, options).check(source, destination);
  const pass = decision.allowed === expectAllowed;
  const verb = expectAllowed ? 'allowed' : 'denied';
  const actual = decision.allowed ? 'allows' : 'denies';
  return {
    pass,
    message: () => `expected ${flowName(source, destination)} ${pass ? 'not ' : ''}to be ${verb}; the model ${actual} it:\n${explain(decision)}`,
  };
}

/** The matchers, for `expect.extend(trafficMatchers)` (installJestMatchers registers them too). */
export const trafficMatchers = {
  toAllowTraffic(received: ManifestInput | TrafficModel, source: TrafficSource, destination: TrafficDestination, options?: TrafficModelOptions) {
    return check(true, received, source, destination, options);
  },
  toDenyTraffic(received: ManifestInput | TrafficModel, source: TrafficSource, destination: TrafficDestination, options?: TrafficModelOptions) {
    return check(false, received, source, destination, options);
  },
};
