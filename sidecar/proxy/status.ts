/**
 * How a response status counts: the outcome of the invocation and its status class.
 * 5xx is the agent's failure; 429 too (the caller got no answer: the agent shed the call or its
 * own model quota ran out, which must count against availability and the SLO); any other 4xx is
 * the caller's fault and, as in OpenTelemetry's HTTP server semantics, not a server error.
 */

/** Status classes of agent_proxy_responses_total, in order. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Index into STATUS_CLASSES; a status outside 100-599 (not a valid HTTP status) counts as 5xx. */
export function statusClassIndex(status: number): number {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? c - 1 : 4;
}

export interface StatusOutcome {
  readonly success: boolean;
  /** error_type of a failed invocation: `5xx` or `429`. */
  readonly errorType?: string;
}

const SUCCESS: StatusOutcome = { success: true };
const SERVER_ERROR: StatusOutcome = { success: false, errorType: '5xx' };
const TOO_MANY: StatusOutcome = { success: false, errorType: '429' };

/** Outcome of an invocation the agent answered with `status`. */
export function statusOutcome(status: number): StatusOutcome {
  if (status === 429) return TOO_MANY;
  return statusClassIndex(status) === 4 ? SERVER_ERROR : SUCCESS;
}
