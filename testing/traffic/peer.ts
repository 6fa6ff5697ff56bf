/** The two ends of a flow, normalized. */
import type { Workload } from './objects';

/** The client of a flow. */
export interface Peer {
  readonly name: string;
  /** Undefined for clients outside the cluster. */
  readonly namespace?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  readonly mesh: 'sidecar' | 'certs' | 'none';
  readonly ip?: string;
  readonly workload?: Workload;
}

/** The server end: one backing workload and the container port the connection lands on. */
export interface Endpoint {
  readonly workload: Workload;
  readonly port: number;
  readonly portName?: string;
  readonly protocol: string;
  /** Whether the pod runs the Istio sidecar. */
  readonly mesh: boolean;
}

/** What the model knows about one namespace (for namespaceSelectors). */
export type NamespaceLabels = (namespace: string) => Readonly<Record<string, string>>;
