/** The traffic model: which flows the synthesized objects allow (docs/traffic.md). */
export { TrafficModel, explain, portProtocol } from './model';
export { trafficMatchers } from './matchers';
export type { TrafficSource, TrafficDestination, TrafficDecision, TrafficStep, TrafficModelOptions, TrafficJwt } from './types';
export { trafficMatrix, agentsOf } from './matrix';
export type { TrafficMatrix, FlowCell, FlowKind, MatrixOptions } from './matrix';
export { toMermaid, toDot, toTable, toGrid } from './graph';
