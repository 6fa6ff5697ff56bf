import { z } from 'zod';
import { cpuQuantity, memoryQuantity, quantityText } from '../validation';

/*
 * Container resources: cpu, memory, ephemeral storage and extended resources (`nvidia.com/gpu`,
 * `amd.com/gpu`, ...). Extended resources cannot be overcommitted: Kubernetes requires the
 * request to equal the limit, and a limit alone sets the request.
 */

// Extended resource names are domain-prefixed (kubernetes.io/ is reserved for native resources).
const EXTENDED_NAME = /^(?!kubernetes\.io\/)(?!requests\.)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const INTEGER_QUANTITY = /^[1-9][0-9]*$/;

const NATIVE = ['cpu', 'memory', 'ephemeralStorage'];

export const resourceQuantitiesSchema = z
  .object({
    cpu: cpuQuantity().optional().describe('CPU quantity, e.g. "250m", or a number of cores (2).'),
    memory: memoryQuantity().optional().describe('Memory quantity, e.g. "512Mi", or a number of bytes.'),
    ephemeralStorage: memoryQuantity().optional().describe('Local ephemeral storage (container writable layer, logs, emptyDir volumes), e.g. "1Gi", or a number of bytes.'),
  })
  .catchall(z.union([z.string(), z.number().transform(quantityText)]).optional().describe('An extended resource such as "nvidia.com/gpu": a whole number, e.g. "1" (or 1).'))
  .superRefine((q, ctx) => {
    for (const [key, value] of Object.entries(q)) {
      if (NATIVE.includes(key)) continue;
      if (!key.includes('/')) {
        // A typo of cpu/memory/ephemeralStorage: an unknown field like any other (with a did-you-mean in system.yaml).
        ctx.addIssue({ code: 'unrecognized_keys', keys: [key], path: [], input: q });
      } else if (!EXTENDED_NAME.test(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `is not a valid extended resource name: expected a domain-prefixed name such as "nvidia.com/gpu" (kubernetes.io/ is reserved)`,
        });
      } else if (typeof value !== 'string' || !INTEGER_QUANTITY.test(value)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `(${JSON.stringify(value)}) must be a whole number of devices, e.g. "1" or 1 (extended resources cannot be fractional)` });
      }
    }
  });

/** Requests/limits props; each value falls back to its default separately. */
export const resourcesSchema = z.strictObject({
  requests: resourceQuantitiesSchema.optional(),
  limits: resourceQuantitiesSchema.optional(),
});

export type ResourcesInput = z.input<typeof resourcesSchema>;

/** A quantity as given (string or number) as the text written to the manifest. */
export function quantityString(q: string | number): string;
export function quantityString(q: string | number | undefined): string | undefined;
export function quantityString(q: string | number | undefined): string | undefined {
  return typeof q === 'number' ? quantityText(q) : q;
}

/** Extended resources of a resources block (keys other than cpu, memory, ephemeralStorage). */
export function extendedOf(q: Readonly<Record<string, string | number | undefined>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(q ?? {}).filter(([k, v]) => !NATIVE.includes(k) && v !== undefined).map(([k, v]) => [k, quantityString(v!)]));
}

/**
 * Extended-resource problems of one resources block, as [path, message] pairs:
 * a request without a limit, or a request that differs from its limit.
 */
export function extendedResourceProblems(r: ResourcesInput | undefined): Array<[Array<string>, string]> {
  const out: Array<[Array<string>, string]> = [];
  const requests = extendedOf(r?.requests);
  const limits = extendedOf(r?.limits);
  for (const [name, request] of Object.entries(requests)) {
    const limit = limits[name];
    if (limit === undefined) {
      out.push([['requests', name], `(${request}) needs limits["${name}"]: Kubernetes requires extended resources to be requested and limited equally (set the limit; the request then defaults to it)`]);
    } else if (limit !== request) {
      out.push([['requests', name], `(${request}) must equal limits["${name}"] (${limit}): extended resources cannot be overcommitted`]);
    }
  }
  return out;
}
