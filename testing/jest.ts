/**
 * Jest integration: `await expect(chart).toBeValidManifests()` and a snapshot serializer that
 * prints objects as readable YAML without volatile fields.
 *
 *   // jest setup file (setupFilesAfterEach) or at the top of a test file:
 *   import { installJestMatchers } from 'cdk8s-agents/testing';
 *   installJestMatchers();            // matcher + snapshot serializer
 */
import * as YAML from 'yaml';
import { Manifests, ManifestInput } from './synth';
import type { K8sObject, ValidateOptions } from './types';
import { validateManifests } from './validate';
import { trafficMatchers } from './traffic/matchers';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      /**
       * Validates a Chart, App, synthObjects() result or object list with validateManifests.
       * Async: `await expect(chart).toBeValidManifests()`. Warnings do not fail it.
       */
      toBeValidManifests(options?: ValidateOptions): Promise<R>;
    }
  }
}

/** The matchers, for `expect.extend(manifestMatchers)`. */
export const manifestMatchers = {
  async toBeValidManifests(this: { isNot?: boolean }, received: ManifestInput, options?: ValidateOptions) {
    const result = await validateManifests(received, options);
    const pass = result.ok;
    return {
      pass,
      message: () =>
        pass
          ? `expected the manifests to be invalid, but they validated (${result.objectCount} objects${result.warnings.length ? `, ${result.warnings.length} warnings` : ''})`
          : `expected valid manifests, got:\n\n${result.toString()}`,
    };
  },
};

// ---------------------------------------------------------------------------------------------
// snapshot serializer

/** Fields the API server or tooling fills in, or that change without a meaningful change. */
const VOLATILE_METADATA = ['creationTimestamp', 'uid', 'resourceVersion', 'generation', 'managedFields', 'selfLink'];
const VOLATILE_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration', 'deployment.kubernetes.io/revision'];

function isK8sObject(v: unknown): v is K8sObject {
  return !!v && typeof v === 'object' && !Array.isArray(v) && typeof (v as any).apiVersion === 'string' && typeof (v as any).kind === 'string';
}

/** A copy of the object without volatile fields; Secret values are replaced by their length. */
export function stableObject(obj: K8sObject): K8sObject {
  const o: any = JSON.parse(JSON.stringify(obj));
  delete o.status;
  if (o.metadata) {
    for (const k of VOLATILE_METADATA) delete o.metadata[k];
    if (o.metadata.annotations) {
      for (const k of VOLATILE_ANNOTATIONS) delete o.metadata.annotations[k];
      if (Object.keys(o.metadata.annotations).length === 0) delete o.metadata.annotations;
    }
  }
  if (o.kind === 'Secret' && o.apiVersion === 'v1') {
    for (const field of ['data', 'stringData']) {
      if (o[field]) for (const k of Object.keys(o[field])) o[field][k] = `<redacted: ${String(o[field][k]).length} characters>`;
    }
  }
  return o;
}

/** Multi-document YAML, one `# Kind/namespace/name` comment per object. */
export function manifestsToYaml(objects: readonly K8sObject[]): string {
  return objects
    .map((o) => {
      const id = `${o.kind}/${o.metadata?.namespace ? o.metadata.namespace + '/' : ''}${o.metadata?.name ?? ''}`;
      return `# ${id}\n` + YAML.stringify(stableObject(o), { lineWidth: 0, aliasDuplicateObjects: false });
    })
    .join('---\n');
}

/** Jest snapshot serializer for objects, lists of objects and synthObjects() results. */
export const manifestSnapshotSerializer = {
  test(val: unknown): boolean {
    return val instanceof Manifests || isK8sObject(val) || (Array.isArray(val) && val.length > 0 && val.every(isK8sObject));
  },
  serialize(val: unknown): string {
    const objects = val instanceof Manifests ? val.objects : Array.isArray(val) ? (val as K8sObject[]) : [val as K8sObject];
    return manifestsToYaml(objects).trimEnd();
  },
};

/** Registers the matchers (toBeValidManifests, toAllowTraffic, toDenyTraffic) and the snapshot serializer on jest's global `expect`. */
export function installJestMatchers(): void {
  const e = (globalThis as any).expect;
  if (!e || typeof e.extend !== 'function') throw new Error('installJestMatchers: no jest `expect` global (call it from a test file or a jest setup file)');
  e.extend(manifestMatchers);
  e.extend(trafficMatchers);
  e.addSnapshotSerializer(manifestSnapshotSerializer);
}
