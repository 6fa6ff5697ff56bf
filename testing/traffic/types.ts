/** Inputs and answers of the traffic model (see docs/traffic.md). */

/**
 * Who opens the connection. A workload of the objects (by Deployment/StatefulSet name), a pod
 * that is not in the objects (Prometheus, an ingress gateway, a workload of another team), or a
 * client outside the cluster.
 */
export type TrafficSource =
  | { readonly workload: string; readonly namespace?: string }
  | {
    readonly pod: {
      readonly namespace: string;
      /** Pod labels (for NetworkPolicy podSelectors). @default {} */
      readonly labels?: Readonly<Record<string, string>>;
      /** Service account (the mesh principal). @default 'default' */
      readonly serviceAccount?: string;
      /**
       * `sidecar`: the pod runs an Istio sidecar that captures its traffic (mTLS to mesh workloads);
       * `certs`: no capture, but the client presents the Istio workload certificate itself (Prometheus
       * with Istio's certificate files, see the ServiceMonitor tlsConfig); `none`: plaintext, no identity.
       * @default 'none'
       */
      readonly mesh?: 'sidecar' | 'certs' | 'none';
      /** Pod IP, for ipBlock rules. @default unknown (ipBlocks do not match) */
      readonly ip?: string;
      /** Name shown in answers. @default `<namespace>/<serviceAccount>` */
      readonly name?: string;
    };
  }
  | { readonly external: { readonly ip: string; readonly name?: string } };

/** Where the connection goes: a Service port (HTTP request details optional), or an external host. */
export type TrafficDestination =
  | {
    readonly service: string;
    readonly namespace?: string;
    /** Service port number or name. */
    readonly port: number | string;
    /** HTTP path. @default '/' */
    readonly path?: string;
    /** HTTP method. @default 'GET' */
    readonly method?: string;
    /** An end-user JWT the request carries (its signature assumed valid). @default none */
    readonly jwt?: TrafficJwt;
  }
  | {
    /** External host name (model providers, remote tools). */
    readonly host: string;
    /** @default 443 */
    readonly port?: number;
  };

/** An end-user token: who issued it and what it says. */
export interface TrafficJwt {
  /** `iss` claim. */
  readonly issuer: string;
  /** `sub` claim. @default 'user' */
  readonly subject?: string;
  /** `aud` claim. @default none */
  readonly audiences?: readonly string[];
  /** Other claims (e.g. scope, groups). @default none */
  readonly claims?: Readonly<Record<string, string | readonly string[]>>;
}

/** One layer's finding on the way. */
export interface TrafficStep {
  /** Which mechanism: service, sidecar-egress, network-egress, network-ingress, mtls, authorization. */
  readonly layer: 'service' | 'sidecar-egress' | 'network-egress' | 'network-ingress' | 'mtls' | 'authentication' | 'authorization';
  readonly verdict: 'allow' | 'deny' | 'n/a';
  /** `Kind/namespace/name` of the objects that decided this step. */
  readonly objects: readonly string[];
  readonly detail: string;
}

/** The model's answer for one flow. */
export interface TrafficDecision {
  readonly allowed: boolean;
  /** The deciding step's detail (for a denial: the first layer that refused). */
  readonly reason: string;
  /** Objects that decided the outcome (for an allow: every object that admitted it). */
  readonly decidedBy: readonly string[];
  readonly steps: readonly TrafficStep[];
  /** Things the model could not decide exactly (CUSTOM authorizers, unknown `when` keys, protocol sniffing). */
  readonly notes: readonly string[];
}

/** Cluster facts the objects do not carry. */
export interface TrafficModelOptions {
  /**
   * Namespaces whose pods run the Istio sidecar. @default every namespace holding a
   * security.istio.io or networking.istio.io object of the input
   */
  readonly meshNamespaces?: readonly string[];
  /** Istio's root namespace (mesh-wide PeerAuthentication / AuthorizationPolicy). @default 'istio-system' */
  readonly rootNamespace?: string;
  /** meshConfig.outboundTrafficPolicy.mode. @default 'ALLOW_ANY' (Istio's default) */
  readonly outboundTrafficPolicy?: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Trust domain of principals. @default 'cluster.local' */
  readonly trustDomain?: string;
  /** Labels of namespaces besides `kubernetes.io/metadata.name` (for namespaceSelectors). @default {} */
  readonly namespaceLabels?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** IP an external host resolves to (for ipBlock egress rules). @default '203.0.113.10' (a public address) */
  readonly externalHostIp?: string;
}
