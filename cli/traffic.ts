/**
 * `cdk8s-agents traffic`: the flow matrix of a system (from its system.yaml, or from synthesized
 * manifests), as a table, a grid, Mermaid, Graphviz DOT or JSON; optionally checked against the
 * declared call graph (`--expect-declared`) for CI.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { isMap, LineCounter, parseAllDocuments } from 'yaml';
import type { AgentSpec } from '../constructs/spec';
import { parseSystemSpec, SystemSpec, SystemSpecError } from '../system/system-spec';
import { FlowCell, MatrixOptions, TrafficJwt, toDot, toGrid, toMermaid, toTable, TrafficMatrix, trafficMatrix, TrafficModel } from '../testing/traffic';
import type { K8sObject } from '../testing/types';
import { argsError, InvalidInput, UsageError } from './errors';
import { BuiltSystem, buildSystem } from './render';
import { Diagnostic, issueToDiagnostic, loadSystemFile } from './source';

/** Exit code of `--expect-declared` when the allowed flows differ from the declared ones. */
export const EXIT_FLOWS_DIFFER = 3;

export const FORMATS = ['table', 'grid', 'mermaid', 'dot', 'json'] as const;
export type TrafficFormat = (typeof FORMATS)[number];

export const TRAFFIC_USAGE = 'Usage: cdk8s-agents traffic <system.yaml | manifests.yaml | dir> [--format table|grid|mermaid|dot|json] [--out <file>] [--expect-declared] [--system <system.yaml>]';

export const TRAFFIC_HELP = `${TRAFFIC_USAGE}

Reads a system file (it is built in memory) or synthesized manifests (a YAML file or a folder
of them, read recursively, e.g. the output of \`synth\`) and prints which flows the objects
allow, by the traffic model of cdk8s-agents/testing (docs/traffic.md): every agent to every
agent, Prometheus in the mesh and outside it to every metrics port, the ingress gateway
(istio-ingress) to every agent, every agent to every ServiceEntry host and to every other
Service of the objects.

Options:
  -f, --format <name>  table    every flow, ALLOW or DENY with the reason of each denial (default)
                       grid     the agent x agent matrix (x: allowed)
                       mermaid  the allowed flows as a Mermaid flowchart
                       dot      the allowed flows as a Graphviz digraph (\`dot -Tsvg\` draws it)
                       json     { agents, calls, cells: [{ kind, from, to, allowed, reason, decidedBy }] }
  -o, --out <file>     write the output to a file instead of standard output
  --expect-declared    compare with what the system declares (its call graph, entry agents,
                       egress hosts, dependencies, scrapes): exit ${EXIT_FLOWS_DIFFER} when the objects allow a
                       flow that is not declared or deny a declared one, listing each on stderr
  --system <file>      for manifests input: the system file that declares the flows and gives
                       the cluster facts (mesh.prometheus.namespace, mesh.trustDomain, the
                       gateway's namespace, agents' ingress.namespaces); a system file input
                       gives them itself. Without one: Prometheus in monitoring, the ingress
                       gateway in istio-ingress, trust domain cluster.local
  -h, --help           show this help

Exit codes: 0 success; 1 invalid input (file:line:column errors); 2 usage error;
${EXIT_FLOWS_DIFFER} --expect-declared found flows that differ from the declared ones.
`;

interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
}

/** What a system declares, as matrix cell keys (`kind from -> to`). */
export interface DeclaredFlows {
  readonly keys: ReadonlySet<string>;
  /**
   * Ingress cells of entry agents behind a gateway that requires an end-user JWT: denied without
   * a token (as the matrix asks), allowed with one the gateway accepts.
   */
  readonly withJwt: ReadonlyMap<string, { readonly jwt: TrafficJwt; readonly path: string }>;
}

/** One difference between the allowed and the declared flows. */
export interface FlowProblem {
  /** `kind from -> to`. */
  readonly flow: string;
  readonly problem: 'undeclared-allowed' | 'declared-denied';
  /** Objects that allowed it, or why it is denied. */
  readonly detail: string;
}

/** The outcome of comparing the matrix with the declared flows. */
export interface FlowCheck {
  readonly problems: readonly FlowProblem[];
  /** Declared flows the matrix has no cell for (e.g. a dependency whose Service is not in the input). */
  readonly unchecked: readonly string[];
}

interface LoadedSystem { readonly spec: SystemSpec; readonly built: BuiltSystem }

const cellKey = (c: Pick<FlowCell, 'kind' | 'from' | 'to'>) => `${c.kind} ${c.from} -> ${c.to}`;

/** Runs `traffic` with its own arguments (after the command name) and returns the exit code. */
export function runTraffic(argv: readonly string[], io: Io): number {
  const flags = {
    format: { type: 'string', short: 'f' },
    out: { type: 'string', short: 'o' },
    'expect-declared': { type: 'boolean' },
    system: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: flags });
  } catch (e) {
    throw argsError(e, flags, 'traffic: ');
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(TRAFFIC_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`traffic: expected one system file, manifests file or folder, got ${positionals.length ? positionals.join(' ') : 'none'} (${TRAFFIC_USAGE})`);
  const format = (values.format ?? 'table') as TrafficFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`traffic: --format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);

  const input = positionals[0];
  const loaded = loadInput(input, io.cwd);
  let system = loaded.system;
  if (values.system !== undefined) {
    if (system) throw new UsageError('traffic: --system is for manifests input; a system file declares its own flows');
    system = loadSystem(values.system, io.cwd);
  }
  if (values['expect-declared'] && !system) throw new UsageError(`traffic: --expect-declared on manifests needs the system file that declares the flows: --system <system.yaml>`);

  const options = system ? matrixOptions(system.spec) : {};
  const model = new TrafficModel(loaded.objects, options.model);
  const matrix = trafficMatrix(model, options);
  const check = values['expect-declared'] && system ? checkDeclared(model, matrix, declaredFlows(system.spec, system.built.system.agentSpecs, matrix)) : undefined;
  const text = render(matrix, format, check);
  if (values.out !== undefined) {
    const target = path.resolve(io.cwd, values.out);
    if (fs.existsSync(target) && fs.statSync(target).isDirectory()) throw new UsageError(`traffic: --out ${values.out}: is a folder, expected a file`);
    try {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, text);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!code) throw e;
      throw new UsageError(`traffic: --out ${values.out}: cannot write it (${code})`);
    }
    const allowed = matrix.cells.filter((c) => c.allowed).length;
    io.stdout(`${input}: ${matrix.agents.length} agents, ${matrix.cells.length} flows (${allowed} allowed, ${matrix.cells.length - allowed} denied) -> ${values.out}\n`);
  } else {
    io.stdout(text);
  }
  if (!check) return 0;
  for (const p of check.problems) io.stderr(`${p.problem === 'undeclared-allowed' ? 'undeclared flow allowed' : 'declared flow denied'}: ${p.flow}: ${p.detail}\n`);
  for (const k of check.unchecked) io.stderr(`note: declared flow not checked (its destination is not in the input): ${k}\n`);
  const undeclared = check.problems.filter((p) => p.problem === 'undeclared-allowed').length;
  io.stderr(check.problems.length === 0
    ? `${input}: every declared flow is allowed and every other one denied\n`
    : `${input}: ${undeclared} undeclared flow(s) allowed, ${check.problems.length - undeclared} declared flow(s) denied\n`);
  return check.problems.length === 0 ? 0 : EXIT_FLOWS_DIFFER;
}

function render(matrix: TrafficMatrix, format: TrafficFormat, check: FlowCheck | undefined): string {
  switch (format) {
    case 'table': return toTable(matrix);
    case 'grid': return toGrid(matrix);
    case 'mermaid': return toMermaid(matrix);
    case 'dot': return toDot(matrix);
    case 'json': {
      const cells = matrix.cells.map((c) => ({ kind: c.kind, from: c.from, to: c.to, allowed: c.allowed, reason: c.reason, decidedBy: c.decidedBy, source: c.source, destination: c.destination }));
      const declared = check && { problems: check.problems, unchecked: check.unchecked };
      return `${JSON.stringify({ agents: matrix.agents, calls: matrix.calls, cells, ...(declared ? { declared } : {}) }, null, 2)}\n`;
    }
  }
}

/**
 * The flows a system declares: its call graph, the ingress gateway to its entry agents (gateway
 * routes and `ingress.namespaces: [istio-ingress]`), each agent's egress hosts and dependencies,
 * and every scrape of an agent that runs the sidecar.
 */
export function declaredFlows(spec: SystemSpec, agentSpecs: readonly AgentSpec[], matrix: TrafficMatrix): DeclaredFlows {
  const multiNs = matrix.agents.some((a) => a.includes('/'));
  const key = (name: string) => (multiNs ? `${spec.namespace}/${name}` : name);
  const keys = new Set<string>();
  const withJwt = new Map<string, { jwt: TrafficJwt; path: string }>();
  for (const [a, b] of spec.calls) keys.add(`call ${key(a)} -> ${key(b)}`);
  const gateway = spec.gateway;
  if (gateway) {
    const ns = gateway.gateway?.namespace ?? DEFAULT_INGRESS.namespace;
    for (const r of gateway.routes) {
      const flow = `ingress ingress ${ns} -> ${key(r.agent)}`;
      if (!gateway.jwt) {
        keys.add(flow);
        continue;
      }
      const claims: Record<string, string[]> = {};
      for (const [k, v] of [...Object.entries(gateway.jwt.requiredClaims ?? {}), ...Object.entries(r.requiredClaims ?? {})]) claims[k] = [...(claims[k] ?? []), ...v];
      withJwt.set(flow, { jwt: { issuer: gateway.jwt.issuer, audiences: gateway.jwt.audiences, claims }, path: r.pathPrefix ?? '/' });
    }
  }
  for (const a of spec.agents) for (const ns of a.ingress?.namespaces ?? []) keys.add(`ingress ingress ${ns} -> ${key(a.name)}`);
  const meshHosts = (spec.mesh.egress?.hosts ?? []).map((h) => (typeof h === 'string' ? `${h}:443` : `${h.host}:${h.port ?? 443}`));
  const unscraped = new Set<string>();
  for (const a of agentSpecs) {
    for (const h of [...meshHosts, ...a.egressHosts.map((x) => `${x.host}:${x.port}`)]) keys.add(`egress ${key(a.name)} -> ${h}`);
    for (const d of a.dependencies) keys.add(`dependency ${key(a.name)} -> ${d.service}.${d.namespace}:${d.port}`);
    if (!a.sidecar.enabled) unscraped.add(key(a.name));
  }
  if (spec.mesh.prometheus !== false) for (const c of matrix.cells) if (c.kind === 'scrape' && !unscraped.has(c.to)) keys.add(cellKey(c));
  return { keys, withJwt };
}

const DEFAULT_INGRESS = { namespace: 'istio-ingress', serviceAccount: 'istio-ingressgateway' };

/**
 * Cluster facts from the system file: where Prometheus runs, the trust domain, and the ingress
 * sources (istio-ingress, the gateway's namespace, every namespace an agent admits by `ingress`).
 */
export function matrixOptions(spec: SystemSpec): MatrixOptions {
  const ingress = new Map<string, string>([[DEFAULT_INGRESS.namespace, DEFAULT_INGRESS.serviceAccount]]);
  if (spec.gateway) ingress.set(spec.gateway.gateway?.namespace ?? DEFAULT_INGRESS.namespace, spec.gateway.gateway?.serviceAccount ?? DEFAULT_INGRESS.serviceAccount);
  for (const a of spec.agents) for (const ns of a.ingress?.namespaces ?? []) if (!ingress.has(ns)) ingress.set(ns, DEFAULT_INGRESS.serviceAccount);
  const prometheus = spec.mesh.prometheus === false ? undefined : spec.mesh.prometheus?.namespace;
  return {
    prometheus: prometheus ? { namespace: prometheus } : undefined,
    ingress: [...ingress].map(([namespace, serviceAccount]) => ({ namespace, serviceAccount })),
    model: spec.mesh.trustDomain ? { trustDomain: spec.mesh.trustDomain } : undefined,
  };
}

/** Every allowed cell must be declared and every declared cell allowed. */
export function checkDeclared(model: TrafficModel, matrix: TrafficMatrix, declared: DeclaredFlows): FlowCheck {
  const present = new Set(matrix.cells.map(cellKey));
  const problems: FlowProblem[] = [];
  for (const c of matrix.cells) {
    const flow = cellKey(c);
    const gated = declared.withJwt.get(flow);
    if (gated && 'service' in c.destination) {
      const { jwt, path: routePath } = gated;
      if (c.allowed) problems.push({ flow, problem: 'undeclared-allowed', detail: `allowed without an end-user JWT (by ${c.decidedBy.join(', ')})` });
      const d = model.check(c.source, { ...c.destination, path: routePath, jwt });
      if (!d.allowed) problems.push({ flow, problem: 'declared-denied', detail: `with a JWT the gateway accepts (iss ${jwt.issuer}) on ${routePath}: ${d.reason}` });
    } else if (c.allowed && !declared.keys.has(flow)) {
      problems.push({ flow, problem: 'undeclared-allowed', detail: `by ${c.decidedBy.join(', ') || 'no object'}` });
    } else if (!c.allowed && declared.keys.has(flow)) {
      problems.push({ flow, problem: 'declared-denied', detail: c.reason });
    }
  }
  const unchecked = [...declared.keys, ...declared.withJwt.keys()].filter((k) => !present.has(k)).sort();
  return { problems, unchecked };
}

/** A system file (by its `agents` and no `kind`) or manifests: a YAML file or a folder of them. */
function loadInput(input: string, cwd: string): { objects: K8sObject[]; system?: LoadedSystem } {
  const full = path.resolve(cwd, input);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InvalidInput([{ file: input, line: 1, column: 1, message: `cannot read the input: ${code === 'ENOENT' ? 'no such file or folder' : (e as Error).message}` }]);
  }
  if (!stat.isDirectory()) {
    const text = fs.readFileSync(full, 'utf8');
    const docs = parseAllDocuments(text);
    const first = Array.isArray(docs) && docs.length === 1 ? docs[0] : undefined;
    if (first && isMap(first.contents) && first.contents.has('agents') && !first.contents.has('kind')) {
      const system = loadSystem(input, cwd);
      return { objects: system.built.objects.map((o) => o.json as K8sObject), system };
    }
  }
  const files = stat.isDirectory() ? yamlFiles(full) : [full];
  const diagnostics: Diagnostic[] = [];
  const objects: K8sObject[] = [];
  for (const f of files) objects.push(...readManifests(f, displayPath(cwd, f), diagnostics));
  if (diagnostics.length) throw new InvalidInput(diagnostics);
  if (objects.length === 0) throw new InvalidInput([{ file: input, line: 1, column: 1, message: stat.isDirectory() ? 'no Kubernetes objects in the folder\'s .yaml/.yml/.json files' : 'no Kubernetes objects in the file' }]);
  return { objects };
}

/** A system file parsed and built in memory; problems at their file:line. */
function loadSystem(file: string, cwd: string): LoadedSystem {
  const loaded = loadSystemFile(file, cwd);
  if (!loaded.ok) throw new InvalidInput(loaded.diagnostics);
  const parsed = parseSystemSpec(loaded.source.value);
  if (!parsed.success) throw new InvalidInput(parsed.issues.map((i) => issueToDiagnostic(loaded.source, i)));
  try {
    return { spec: parsed.data, built: buildSystem(parsed.data) };
  } catch (e) {
    if (e instanceof SystemSpecError) throw new InvalidInput(e.issues.map((i) => issueToDiagnostic(loaded.source, i)));
    throw e;
  }
}

function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return yamlFiles(p);
      return /\.(ya?ml|json)$/.test(e.name) && e.name !== 'kustomization.yaml' && !e.name.endsWith('.construct-paths.json') && e.name !== 'construct-metadata.json' ? [p] : [];
    });
}

/** The objects of one YAML/JSON file; problems (syntax, a document that is no object) at their line. */
function readManifests(file: string, shown: string, diagnostics: Diagnostic[]): K8sObject[] {
  const text = fs.readFileSync(file, 'utf8');
  const lineCounter = new LineCounter();
  const lines = text.split(/\r?\n/);
  const at = (offset: number, message: string): Diagnostic => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: shown, line, column: col, message, sourceLine: lines[line - 1] };
  };
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length) {
      for (const err of doc.errors) diagnostics.push(at(err.pos[0], err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')));
      continue;
    }
    const value = doc.toJS({ maxAliasCount: 1000 }) as unknown;
    if (value === null || value === undefined) continue;
    const items = isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
    for (const item of items) {
      const offset = doc.contents?.range?.[0] ?? doc.range[0];
      if (!isObject(item) || typeof item.kind !== 'string' || typeof item.apiVersion !== 'string' || !isObject(item.metadata) || typeof item.metadata.name !== 'string') {
        diagnostics.push(at(offset, 'expected a Kubernetes object (a mapping with apiVersion, kind and metadata.name)'));
        continue;
      }
      out.push(item as unknown as K8sObject);
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function displayPath(cwd: string, p: string): string {
  const rel = path.relative(cwd, p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}
