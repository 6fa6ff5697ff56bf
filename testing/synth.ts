/**
 * `synthObjects`: synthesizes a Chart or App in memory and keeps, for every object, the path of
 * the construct that produced it (so validation reports can name it).
 */
import { ApiObject, App, Chart } from 'cdk8s';
import type { IConstruct } from 'constructs';
import type { K8sObject } from './types';


const registry = new WeakMap<object, string>();

/** The construct path recorded for an object returned by `synthObjects`, if any. */
export function constructPathOf(obj: object): string | undefined {
  return registry.get(obj);
}

/** A query for `Manifests.find`. Every given field must match. */
export interface ObjectQuery {
  /** `kind`, e.g. `Deployment`. */
  readonly kind?: string;
  /** `apiVersion`, e.g. `apps/v1`, or just the group (`networking.istio.io`). */
  readonly apiVersion?: string;
  /** `metadata.name`. */
  readonly name?: string;
  /** `metadata.namespace`. */
  readonly namespace?: string;
  /** The agent: label `app.kubernetes.io/name` (or `app.kubernetes.io/instance`). */
  readonly agent?: string;
  /** Labels the object must carry. */
  readonly labels?: Readonly<Record<string, string>>;
}

function matches(o: K8sObject, q: ObjectQuery): boolean {
  if (q.kind !== undefined && o.kind !== q.kind) return false;
  if (q.apiVersion !== undefined && o.apiVersion !== q.apiVersion && !o.apiVersion.startsWith(q.apiVersion + '/')) return false;
  if (q.name !== undefined && o.metadata?.name !== q.name) return false;
  if (q.namespace !== undefined && o.metadata?.namespace !== q.namespace) return false;
  const labels = o.metadata?.labels ?? {};
  if (q.agent !== undefined && labels['app.kubernetes.io/name'] !== q.agent && labels['app.kubernetes.io/instance'] !== q.agent) return false;
  for (const [k, v] of Object.entries(q.labels ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** Synthesized objects with lookup helpers. */
export class Manifests {
  constructor(
    /** Every object, in synthesis order. */
    readonly objects: readonly K8sObject[],
    /** Construct path per object. */
    readonly constructPaths: ReadonlyMap<object, string> = new Map(),
  ) {}

  /** Objects matching the query. */
  find(query: ObjectQuery = {}): K8sObject[] {
    return this.objects.filter((o) => matches(o, query));
  }

  /** Objects of one kind. */
  ofKind(kind: string): K8sObject[] {
    return this.find({ kind });
  }

  /** Objects of one agent (label `app.kubernetes.io/name` or `app.kubernetes.io/instance`). */
  forAgent(agent: string): K8sObject[] {
    return this.find({ agent });
  }

  /** Exactly one object of that kind and name; throws (listing what exists) otherwise. */
  get(kind: string, name: string, namespace?: string): K8sObject {
    const found = this.find({ kind, name, namespace });
    if (found.length !== 1) {
      const have = this.ofKind(kind).map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`);
      throw new Error(
        `expected exactly one ${kind} named "${name}"${namespace ? ` in ${namespace}` : ''}, found ${found.length}` +
          ` (${kind} objects: ${have.length ? have.join(', ') : 'none'})`,
      );
    }
    return found[0];
  }

  /** The construct path of an object. */
  constructPathOf(obj: object): string | undefined {
    return this.constructPaths.get(obj) ?? registry.get(obj);
  }

  get length(): number {
    return this.objects.length;
  }

  [Symbol.iterator](): Iterator<K8sObject> {
    return this.objects[Symbol.iterator]();
  }
}

function isApp(x: unknown): x is App {
  return x instanceof App || (!!x && typeof x === 'object' && 'charts' in x && typeof (x as any).synthYaml === 'function');
}
function isChart(x: unknown): x is Chart {
  return Chart.isChart(x as any);
}

function identity(o: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }): string {
  return `${o.apiVersion}|${o.kind}|${o.metadata?.namespace ?? ''}|${o.metadata?.name ?? ''}`;
}

/** Synthesizes one chart; objects come from `chart.toJson()` (what `cdk8s synth` writes). */
function synthChart(chart: Chart, paths: Map<object, string>): K8sObject[] {
  const byIdentity = new Map<string, string>();
  for (const c of chart.node.findAll() as IConstruct[]) {
    if (!ApiObject.isApiObject(c)) continue;
    const a = c as ApiObject;
    byIdentity.set(identity({ apiVersion: a.apiVersion, kind: a.kind, metadata: { name: a.name, namespace: a.metadata.namespace } }), a.node.path);
  }
  const objects = chart.toJson() as K8sObject[];
  for (const o of objects) {
    const p = byIdentity.get(identity(o as any));
    if (p) {
      paths.set(o, p);
      registry.set(o, p);
    }
  }
  return objects;
}

/**
 * Synthesizes a Chart or an App in memory (no files) and returns its objects with construct paths.
 *
 * @example
 *   const m = synthObjects(chart);
 *   const deployment = m.get('Deployment', 'planner');
 *   expect((await validateManifests(m)).problems).toEqual([]);
 */
export function synthObjects(scope: Chart | App): Manifests {
  const paths = new Map<object, string>();
  let objects: K8sObject[];
  if (isApp(scope)) {
    objects = (scope as App).charts.flatMap((ch) => synthChart(ch, paths));
  } else if (isChart(scope)) {
    objects = synthChart(scope as Chart, paths);
  } else {
    throw new Error('synthObjects expects a cdk8s Chart or App');
  }
  return new Manifests(objects, paths);
}

/** What `validateManifests` accepts. */
export type ManifestInput = readonly K8sObject[] | Manifests | Chart | App;

/** Normalizes the accepted inputs to a list of objects (and construct paths when known). */
export function toObjects(input: ManifestInput): { objects: readonly K8sObject[]; constructPaths?: ReadonlyMap<object, string> } {
  if (input instanceof Manifests) return { objects: input.objects, constructPaths: input.constructPaths };
  if (Array.isArray(input)) return { objects: (input as K8sObject[]).filter((o) => o !== null && o !== undefined) };
  if (isApp(input) || isChart(input)) {
    const m = synthObjects(input as Chart | App);
    return { objects: m.objects, constructPaths: m.constructPaths };
  }
  throw new Error('validateManifests expects an array of objects, the result of synthObjects(), a Chart or an App');
}

/** File (next to the manifests) in which `synthApp` records the construct path of every object. */
export const CONSTRUCT_PATHS_FILE = 'cdk8s-agents.construct-paths.json';

/** Key of an object in the construct paths file: `apiVersion Kind/namespace/name`. */
export function constructPathKey(o: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } }): string {
  const ns = o.metadata?.namespace;
  return `${o.apiVersion} ${o.kind}/${ns ? ns + '/' : ''}${o.metadata?.name}`;
}

/**
 * Writes `cdk8s-agents.construct-paths.json` into the output folder: the construct path of every
 * object by apiVersion, kind, namespace and name. cdk8s' own construct-metadata.json is keyed by
 * name only, so objects that share a name (an agent's Deployment, Service, ServiceAccount, ...)
 * would all get the same construct path in the validation report.
 */
export function writeConstructPaths(app: App, outdir: string = app.outdir): string {
  const m = synthObjects(app);
  const resources: Record<string, string> = {};
  for (const o of m.objects) {
    const p = m.constructPathOf(o);
    if (p) resources[constructPathKey(o)] = p;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('fs') as typeof import('fs');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require('path') as typeof import('path');
  fs.mkdirSync(outdir, { recursive: true });
  const file = path.join(outdir, CONSTRUCT_PATHS_FILE);
  fs.writeFileSync(file, JSON.stringify({ version: '1', resources }, null, 2) + '\n');
  return file;
}

/**
 * `app.synth()`, plus the construct paths file when `cdk8s synth` runs validation plugins (it sets
 * CDK8S_RECORD_CONSTRUCT_METADATA=true then), so the report names the exact construct.
 * Use it in the app's entry point instead of `app.synth()`.
 */
export function synthApp(app: App): void {
  app.synth();
  if (process.env.CDK8S_RECORD_CONSTRUCT_METADATA === 'true') writeConstructPaths(app);
}
