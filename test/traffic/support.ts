import { FlowCell, K8sObject, MatrixOptions, TrafficMatrix, trafficMatrix, TrafficModel } from '../../testing';

/** What a system must allow; every other cell of the matrix must be denied. */
export interface ExpectedFlows {
  /** Declared agent -> agent calls. */
  readonly calls: ReadonlyArray<readonly [string, string]>;
  /** Entry agents the ingress gateway (namespace istio-ingress) may call. */
  readonly ingress: readonly string[];
  /** Agent -> `host:port` it may reach (hosts of the ServiceEntries only). */
  readonly egress: Readonly<Record<string, readonly string[]>>;
  /** Agent -> `service.namespace:port` of non-agent Services in the objects. */
  readonly dependencies?: Readonly<Record<string, readonly string[]>>;
  /** Agents without the sidecar (no metrics port). */
  readonly unscraped?: readonly string[];
}

const key = (c: FlowCell) => `${c.kind} ${c.from} -> ${c.to}`;

/** Checks every cell of the matrix against the expectation, and probes denials the matrix does not list. */
export function expectSystemFlows(objects: readonly K8sObject[], expected: ExpectedFlows, options: MatrixOptions = {}): TrafficMatrix {
  const model = new TrafficModel(objects, options.model);
  const m = trafficMatrix(model, options);
  const want = new Set<string>();
  for (const [a, b] of expected.calls) want.add(`call ${a} -> ${b}`);
  for (const agent of m.agents) {
    if (expected.unscraped?.includes(agent)) continue;
    want.add(`scrape prometheus (mesh) -> ${agent}`);
    for (const c of m.cells.filter((x) => x.kind === 'scrape' && x.to === agent && x.from !== 'prometheus (mesh)')) want.add(key(c));
  }
  for (const a of expected.ingress) want.add(`ingress ingress istio-ingress -> ${a}`);
  for (const [a, hosts] of Object.entries(expected.egress)) for (const h of hosts) want.add(`egress ${a} -> ${h}`);
  for (const [a, deps] of Object.entries(expected.dependencies ?? {})) for (const d of deps) want.add(`dependency ${a} -> ${d}`);

  const wrong = m.cells.filter((c) => c.allowed !== want.has(key(c))).map((c) => `${key(c)}: expected ${want.has(key(c)) ? 'allowed' : 'denied'}, ${c.allowed ? 'allowed' : `denied (${c.reason})`}`);
  const present = new Set(m.cells.map(key));
  const missing = [...want].filter((w) => !present.has(w));
  expect({ wrong, missing }).toEqual({ wrong: [], missing: [] });
  // Scrapes from outside the mesh must hold too (with Istio certificates or a plaintext port).
  for (const c of m.cells.filter((x) => x.kind === 'scrape')) expect(`${key(c)}: ${c.allowed}`).toBe(`${key(c)}: ${!expected.unscraped?.includes(c.to)}`);

  // Denials outside the matrix: unknown hosts, other methods and paths on the metrics port, other namespaces.
  const probes: string[] = [];
  for (const c of m.cells.filter((x) => x.kind === 'call' && x.from === x.to)) {
    const agent = c.source;
    const d = model.check(agent, { host: 'exfiltrate.example.com', port: 443 });
    if (d.allowed) probes.push(`${c.from} -> exfiltrate.example.com:443 allowed`);
  }
  for (const c of m.cells.filter((x) => x.kind === 'scrape' && x.from === 'prometheus (mesh)')) {
    const dest = c.destination as { service: string; namespace?: string; port: string | number };
    if (model.check(c.source, { ...dest, method: 'POST', path: '/metrics' }).allowed) probes.push(`POST /metrics on ${c.to} allowed`);
    if (model.check(c.source, { ...dest, method: 'GET', path: '/v1/cache/x' }).allowed) probes.push(`GET /v1/cache/x on ${c.to} allowed`);
    const other = { pod: { namespace: 'default', serviceAccount: 'prometheus', mesh: 'sidecar' as const } };
    if (model.check(other, { ...dest, method: 'GET', path: '/metrics' }).allowed) probes.push(`scrape of ${c.to} from namespace default allowed`);
    const plain = { pod: { namespace: 'default', mesh: 'none' as const } };
    if (model.check(plain, { ...dest, port: 'http', method: 'POST', path: '/' }).allowed) probes.push(`plaintext call to ${c.to} from namespace default allowed`);
  }
  expect(probes).toEqual([]);
  return m;
}
