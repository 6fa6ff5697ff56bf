/** The traffic model: which flows the synthesized objects allow (docs/traffic.md). */
export { TrafficModel, explain, portProtocol } from './model';
export { trafficMatchers } from './matchers';
export type { TrafficSource, TrafficDestination, TrafficDecision, TrafficStep, TrafficModelOptions } from './types';
