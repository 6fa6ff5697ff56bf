/**
 * Validation of execution records. Hand-written rather than a schema library because it runs
 * for every record at hundreds of thousands per second; errors name the record index and field.
 */
import type { ExecutionRecord } from './metrics';

/** Longest accepted label-like string (agent, operation, model, error type). */
export const MAX_LABEL_LENGTH = 128;
/** Longest accepted duration: one day. Anything longer is a unit mistake. */
export const MAX_DURATION_MS = 86_400_000;
/** Largest token count accepted for one operation. */
export const MAX_TOKENS = 1e9;

/** Most field errors reported for one request (the rest are not collected). */
export const MAX_ERROR_DETAILS = 20;
/** Deepest JSON nesting accepted in a request body (records are two levels deep). */
export const MAX_JSON_DEPTH = 32;

/**
 * True when `text` nests arrays/objects deeper than `max`. A linear scan before JSON.parse: a
 * 10,000-deep array is valid JSON, but anything that walks it recursively (an error message
 * built with JSON.stringify) overflows the stack.
 */
export function exceedsJsonDepth(text: string, max: number): boolean {
  if (text.length <= max * 2) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** A short description of a value for an error message (never walks a nested structure). */
function describe(v: unknown): string {
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const text = typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : String(v);
  return text;
}

export interface FieldError {
  /** Index in the batch (0 for a single record). */
  index: number;
  field: string;
  message: string;
}

const KNOWN_FIELDS = new Set(['agent', 'operation', 'durationMs', 'success', 'errorType', 'model', 'inputTokens', 'outputTokens']);

function labelString(v: unknown, field: string, index: number, errors: FieldError[], required: boolean): string | undefined {
  if (v === undefined || v === null) {
    if (required) errors.push({ index, field, message: 'is required' });
    return undefined;
  }
  if (typeof v !== 'string') {
    errors.push({ index, field, message: `must be a string, got ${typeName(v)}` });
    return undefined;
  }
  if (v.length === 0 || v.length > MAX_LABEL_LENGTH) {
    errors.push({ index, field, message: `must be 1-${MAX_LABEL_LENGTH} characters long` });
    return undefined;
  }
  return v;
}

function tokenCount(v: unknown, field: string, index: number, errors: FieldError[]): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_TOKENS) {
    errors.push({ index, field, message: `must be an integer between 0 and ${MAX_TOKENS}, got ${describe(v)}` });
    return undefined;
  }
  return v;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Validates one record. `defaultAgent` fills a missing `agent`. Unknown fields are errors, so a
 * typo such as `duration_ms` is reported instead of silently dropped.
 */
export function validateRecord(input: unknown, index: number, defaultAgent: string, errors: FieldError[]): ExecutionRecord | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    errors.push({ index, field: '', message: `a record must be a JSON object, got ${typeName(input)}` });
    return undefined;
  }
  const o = input as Record<string, unknown>;
  const before = errors.length;
  for (const k in o) {
    if (KNOWN_FIELDS.has(k)) continue;
    if (errors.length >= MAX_ERROR_DETAILS) break;
    errors.push({ index, field: k.slice(0, 128), message: 'is not a known field' });
  }
  const agent = labelString(o.agent, 'agent', index, errors, false) ?? defaultAgent;
  const operation = labelString(o.operation, 'operation', index, errors, true);
  const d = o.durationMs;
  if (d === undefined || d === null) errors.push({ index, field: 'durationMs', message: 'is required' });
  else if (typeof d !== 'number') errors.push({ index, field: 'durationMs', message: `must be a number, got ${typeName(d)}` });
  // JSON.parse turns 1e400 into Infinity: a number, but not a duration.
  else if (!Number.isFinite(d)) errors.push({ index, field: 'durationMs', message: `must be a finite number, got ${d} (out of range)` });
  else if (d < 0) errors.push({ index, field: 'durationMs', message: `must be >= 0, got ${d}` });
  else if (d > MAX_DURATION_MS) errors.push({ index, field: 'durationMs', message: `must be <= ${MAX_DURATION_MS} (one day), got ${d}` });
  const success = o.success;
  if (success === undefined || success === null) errors.push({ index, field: 'success', message: 'is required' });
  else if (typeof success !== 'boolean') errors.push({ index, field: 'success', message: `must be a boolean, got ${typeName(success)}` });
  const errorType = labelString(o.errorType, 'errorType', index, errors, false);
  const model = labelString(o.model, 'model', index, errors, false);
  const inputTokens = tokenCount(o.inputTokens, 'inputTokens', index, errors);
  const outputTokens = tokenCount(o.outputTokens, 'outputTokens', index, errors);
  if (errors.length > before) return undefined;
  return {
    agent,
    operation: operation!,
    durationMs: d as number,
    success: success as boolean,
    errorType,
    model,
    inputTokens,
    outputTokens,
  };
}

/** Validates a single record or a batch; all-or-nothing so a client never has to guess what was kept. */
export function validateBatch(
  body: unknown,
  defaultAgent: string,
  maxBatch: number,
): { records: ExecutionRecord[]; errors: FieldError[]; tooMany?: number } {
  const errors: FieldError[] = [];
  if (Array.isArray(body)) {
    if (body.length > maxBatch) return { records: [], errors, tooMany: body.length };
    const records: ExecutionRecord[] = new Array(body.length);
    for (let i = 0; i < body.length; i++) {
      const r = validateRecord(body[i], i, defaultAgent, errors);
      if (r) records[i] = r;
      // Stop collecting after a screenful: a bad 10k batch must not build a 10k-entry error body.
      if (errors.length >= MAX_ERROR_DETAILS) break;
    }
    return { records: errors.length ? [] : records, errors: errors.slice(0, MAX_ERROR_DETAILS) };
  }
  const r = validateRecord(body, 0, defaultAgent, errors);
  return { records: r ? [r] : [], errors: errors.slice(0, MAX_ERROR_DETAILS) };
}

/** Validates the body of POST /v1/inflight: `{agent?, delta: 1|-1}` or `{agent?, value: n}`. */
export function validateInflight(
  body: unknown,
  defaultAgent: string,
): { agent: string; delta?: number; value?: number; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    errors.push({ index: 0, field: '', message: `body must be a JSON object, got ${typeName(body)}` });
    return { agent: defaultAgent, errors };
  }
  const o = body as Record<string, unknown>;
  for (const k in o) {
    if (k === 'agent' || k === 'delta' || k === 'value') continue;
    if (errors.length >= MAX_ERROR_DETAILS) break;
    errors.push({ index: 0, field: k.slice(0, 128), message: 'is not a known field' });
  }
  const agent = labelString(o.agent, 'agent', 0, errors, false) ?? defaultAgent;
  const { delta, value } = o;
  if ((delta === undefined) === (value === undefined)) {
    errors.push({ index: 0, field: 'delta', message: 'exactly one of delta or value is required' });
  } else if (delta !== undefined && (typeof delta !== 'number' || !Number.isInteger(delta) || Math.abs(delta) > 1000)) {
    errors.push({ index: 0, field: 'delta', message: `must be an integer between -1000 and 1000, got ${describe(delta)}` });
  } else if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1e6)) {
    errors.push({ index: 0, field: 'value', message: `must be an integer between 0 and 1000000, got ${describe(value)}` });
  }
  return { agent, delta: delta as number | undefined, value: value as number | undefined, errors };
}
