/**
 * Fake model providers for the gateway tests: real HTTP servers on 127.0.0.1 that answer in the
 * providers' documented formats (never the real providers).
 *
 * - OpenAI-compatible: POST /v1/chat/completions, JSON (`usage.prompt_tokens/completion_tokens`)
 *   or SSE (`data: {chunk}` ... a final usage chunk when `stream_options.include_usage`, then
 *   `data: [DONE]`); POST /v1/embeddings.
 * - Anthropic Messages: POST /v1/messages, JSON (`usage.input_tokens/output_tokens`) or SSE
 *   (`message_start` with input tokens, `content_block_*`, `message_delta` with output tokens,
 *   `message_stop`).
 *
 * Tests replace `handler` for fault cases; every request is recorded.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void | Promise<void>;

export interface FakeProvider {
  readonly url: string;
  readonly received: Received[];
  handler?: Handler;
  /** Requests whose connection closed before the response finished (the gateway aborted them). */
  aborted: number;
  /** Responses not finished yet. */
  open: number;
  /** Delay between SSE chunks of the default handlers. */
  chunkDelayMs: number;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function openaiCompletion(model: string, text: string, usage = { prompt_tokens: 11, completion_tokens: 7 }) {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1700000000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

async function openaiChat(fake: FakeProvider, req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
  const b = JSON.parse(body);
  const model = `${b.model}-2024-08-06`;
  const words: string[] = ['Hello', ' there', ',', ' agent', '!'];
  if (!b.stream) {
    const text = JSON.stringify(openaiCompletion(model, words.join('')));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const withUsage = b.stream_options?.include_usage === true;
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model, choices: [{ index: 0, delta, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }, null));
  for (const w of words) {
    await sleep(fake.chunkDelayMs);
    if (res.destroyed) return;
    res.write(chunk({ content: w }, null));
  }
  res.write(chunk({}, 'stop'));
  if (withUsage) {
    res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model, choices: [], usage: { prompt_tokens: 13, completion_tokens: 5, total_tokens: 18 } })}\n\n`);
  }
  res.end('data: [DONE]\n\n');
}

async function anthropicMessages(fake: FakeProvider, req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
  const b = JSON.parse(body);
  const model = b.model;
  const words = ['Hi', ' from', ' Claude'];
  if (!b.stream) {
    const text = JSON.stringify({
      id: 'msg_1', type: 'message', role: 'assistant', model,
      content: [{ type: 'text', text: words.join('') }],
      stop_reason: 'end_turn', stop_sequence: null,
      usage: { input_tokens: 21, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 4 },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  const ev = (name: string, data: object) => `event: ${name}\r\ndata: ${JSON.stringify({ type: name, ...data })}\r\n\r\n`;
  res.write(ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: 25, output_tokens: 1 } } }));
  res.write(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
  res.write(ev('ping', {}));
  for (const w of words) {
    await sleep(fake.chunkDelayMs);
    if (res.destroyed) return;
    res.write(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } }));
  }
  res.write(ev('content_block_stop', { index: 0 }));
  res.write(ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } }));
  res.end(ev('message_stop', {}));
}

/** Starts a fake provider; `tls` serves HTTPS with the given key and certificate. */
export function startFakeProvider(kind: 'openai' | 'anthropic', tls?: { key: string; cert: string }): Promise<FakeProvider> {
  const fake: FakeProvider = {
    url: '',
    received: [],
    aborted: 0,
    open: 0,
    chunkDelayMs: 5,
    close: async () => undefined,
  };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      fake.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      fake.open++;
      res.on('close', () => {
        fake.open--;
        if (!res.writableFinished) fake.aborted++;
      });
      const run = async () => {
        if (fake.handler) return fake.handler(req, res, body);
        if (kind === 'openai' && req.url?.startsWith('/v1/chat/completions')) return openaiChat(fake, req, res, body);
        if (kind === 'openai' && req.url?.startsWith('/v1/embeddings')) {
          const text = JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } });
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(text);
        }
        if (kind === 'anthropic' && req.url?.startsWith('/v1/messages')) return anthropicMessages(fake, req, res, body);
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found' } }));
      };
      Promise.resolve(run()).catch(() => res.destroy());
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      (fake as { url: string }).url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
      fake.close = () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        });
      resolve(fake);
    });
  });
}
