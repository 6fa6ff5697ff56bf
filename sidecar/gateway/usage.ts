/**
 * Token usage and response model from provider responses, as the providers document them:
 *
 * - OpenAI-compatible JSON: `model`, `usage.prompt_tokens` / `usage.completion_tokens`
 *   (Responses API: `usage.input_tokens` / `usage.output_tokens`);
 * - OpenAI SSE: `data: {chunk}` events, the usage in the last chunk (with
 *   `stream_options.include_usage`), then `data: [DONE]`; Responses API: `response.completed`;
 * - Anthropic JSON: `model`, `usage.input_tokens` (+ cache creation/read tokens) / `usage.output_tokens`;
 * - Anthropic SSE: `message_start` (model, input tokens), `message_delta` (cumulative output
 *   tokens), `message_stop`; an `error` event fails the stream.
 *
 * The SSE parser is incremental: it sees each chunk once as it passes to the agent and keeps only
 * the current, bounded, line.
 */
import { StringDecoder } from 'node:string_decoder';
import type { ProviderApi } from '../contract';

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  responseModel?: string;
}

const tokenCount = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);
const sum = (...vs: (number | undefined)[]): number | undefined => {
  let out: number | undefined;
  for (const v of vs) if (v !== undefined) out = (out ?? 0) + v;
  return out;
};

/** Usage from a `usage` object of either API. */
export function usageFromObject(api: ProviderApi, u: unknown, into: Usage): void {
  if (!u || typeof u !== 'object') return;
  const o = u as Record<string, unknown>;
  if (api === 'anthropic') {
    // Input tokens exclude cached ones in Anthropic's accounting; OTel counts all input tokens.
    const input = sum(tokenCount(o.input_tokens), tokenCount(o.cache_creation_input_tokens), tokenCount(o.cache_read_input_tokens));
    if (input !== undefined) into.inputTokens = input;
    const output = tokenCount(o.output_tokens);
    if (output !== undefined) into.outputTokens = output;
    return;
  }
  const input = tokenCount(o.prompt_tokens) ?? tokenCount(o.input_tokens);
  const output = tokenCount(o.completion_tokens) ?? tokenCount(o.output_tokens);
  if (input !== undefined) into.inputTokens = input;
  if (output !== undefined) into.outputTokens = output;
}

/** Usage from a whole JSON response body; undefined when it is not a JSON object. */
export function usageFromJson(api: ProviderApi, text: string): Usage | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const o = body as Record<string, unknown>;
  const out: Usage = {};
  if (typeof o.model === 'string') out.responseModel = o.model;
  usageFromObject(api, o.usage, out);
  return out;
}

/** Longest SSE line kept; a longer one marks the stream malformed and is skipped. */
export const MAX_SSE_LINE = 1024 * 1024;
const USAGE_RE = /"usage"\s*:\s*\{/;

/** Incremental SSE reader that extracts usage without holding the stream. */
export class SseUsageParser {
  readonly usage: Usage = {};
  /** Data events seen (chunks, for timing). */
  events = 0;
  /** The terminal event arrived ([DONE], response.completed, message_stop). */
  complete = false;
  /** A line was too long, or an event's data was not the JSON the API documents. */
  malformed = false;
  /** The provider reported an error inside the stream. */
  streamError = false;
  private readonly decoder = new StringDecoder('utf8');
  private line = '';
  private skipping = false;
  private lastWasCr = false;
  private eventName = '';
  private data: string[] = [];

  constructor(private readonly api: ProviderApi) {}

  /** Feeds one chunk; returns the number of data events it completed. */
  feed(chunk: Buffer): number {
    const before = this.events;
    const text = this.decoder.write(chunk);
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // "\r\n" is one line ending.
      if (c === 10 && this.lastWasCr && i === start) {
        this.lastWasCr = false;
        start = i + 1;
        continue;
      }
      this.lastWasCr = c === 13;
      this.appendLine(text.slice(start, i));
      this.endLine();
      start = i + 1;
    }
    if (start < text.length) {
      this.lastWasCr = false;
      this.appendLine(text.slice(start));
    }
    return this.events - before;
  }

  private appendLine(part: string): void {
    if (this.skipping) return;
    if (this.line.length + part.length > MAX_SSE_LINE) {
      this.malformed = true;
      this.skipping = true;
      this.line = '';
      return;
    }
    this.line += part;
  }

  private endLine(): void {
    const line = this.line;
    this.line = '';
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 58) return; // ":" comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      if (this.data.length < 1000) this.data.push(value);
      else this.malformed = true;
    } else if (field === 'event') this.eventName = value;
  }

  private dispatch(): void {
    if (this.data.length === 0) {
      this.eventName = '';
      return;
    }
    const data = this.data.length === 1 ? this.data[0] : this.data.join('\n');
    const name = this.eventName;
    this.data = [];
    this.eventName = '';
    this.events++;
    if (this.api === 'anthropic') this.anthropicEvent(name, data);
    else this.openaiEvent(name, data);
  }

  private parse(data: string): Record<string, unknown> | undefined {
    try {
      const v = JSON.parse(data);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      /* fall through */
    }
    this.malformed = true;
    return undefined;
  }

  private openaiEvent(name: string, data: string): void {
    if (data === '[DONE]') {
      this.complete = true;
      return;
    }
    if (data.charCodeAt(0) !== 123) {
      this.malformed = true;
      return;
    }
    // Parse the first chunk (model), usage chunks and typed events; skip the plain deltas.
    const typed = name !== '' || data.startsWith('{"type"');
    if (this.events > 1 && !typed && !USAGE_RE.test(data)) return;
    const o = this.parse(data);
    if (!o) return;
    const type = typeof o.type === 'string' ? o.type : name;
    if (type === 'error' || (o.error && typeof o.error === 'object')) {
      this.streamError = true;
      return;
    }
    if (type === 'response.completed' || type === 'response.failed' || type === 'response.incomplete') {
      const r = o.response as Record<string, unknown> | undefined;
      if (r && typeof r.model === 'string') this.usage.responseModel = r.model;
      usageFromObject('openai', r?.usage, this.usage);
      if (type === 'response.completed') this.complete = true;
      else this.streamError = true;
      return;
    }
    if (typeof o.model === 'string' && this.usage.responseModel === undefined) this.usage.responseModel = o.model;
    if (o.usage) usageFromObject('openai', o.usage, this.usage);
  }

  private anthropicEvent(name: string, data: string): void {
    if (name === 'ping' || name === 'content_block_delta' || name === 'content_block_start' || name === 'content_block_stop') {
      if (data.charCodeAt(0) !== 123) this.malformed = true;
      return;
    }
    const o = this.parse(data);
    if (!o) return;
    const type = typeof o.type === 'string' ? o.type : name;
    switch (type) {
      case 'message_start': {
        const m = o.message as Record<string, unknown> | undefined;
        if (m && typeof m.model === 'string') this.usage.responseModel = m.model;
        usageFromObject('anthropic', m?.usage, this.usage);
        return;
      }
      case 'message_delta': {
        // Cumulative output tokens: the last one wins; input counts only when present.
        const u = o.usage as Record<string, unknown> | undefined;
        const out = tokenCount(u?.output_tokens);
        if (out !== undefined) this.usage.outputTokens = out;
        if (u && (u.input_tokens !== undefined || u.cache_read_input_tokens !== undefined || u.cache_creation_input_tokens !== undefined)) {
          const input = sum(tokenCount(u.input_tokens), tokenCount(u.cache_creation_input_tokens), tokenCount(u.cache_read_input_tokens));
          if (input !== undefined && input > (this.usage.inputTokens ?? 0)) this.usage.inputTokens = input;
        }
        return;
      }
      case 'message_stop':
        this.complete = true;
        return;
      case 'error':
        this.streamError = true;
        return;
      default:
        return;
    }
  }
}
