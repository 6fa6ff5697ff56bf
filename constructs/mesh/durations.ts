/** Istio (Go) durations: the schema the CRDs' CEL rules accept, and their length in seconds. */
import { z } from 'zod';

/** An Istio (Go) duration, at least 1ms as the CRDs' CEL rules require. */
export const istioDuration = () =>
  z.string().superRefine((d, ctx) => {
    if (/^-/.test(d)) {
      ctx.addIssue({ code: 'custom', message: `("${d}") must be a positive duration` });
    } else if (!/^([0-9]+(h|m|s|ms))+$/.test(d)) {
      ctx.addIssue({ code: 'custom', message: `("${d}") must be a duration such as "500ms", "30s", "5m" or "1h30m"` });
    } else if (istioSeconds(d) < 0.001) {
      ctx.addIssue({ code: 'custom', message: `("${d}") must be at least 1ms` });
    }
  });

/** Seconds in an Istio duration (h, m, s, ms). */
export function istioSeconds(d: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  for (const m of d.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}
