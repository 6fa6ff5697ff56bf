/**
 * Bytes counted by the inbound proxy of the real sidecar process: websocket tunnels (each
 * direction, bytes that came with either handshake included, the handshake headers not) and
 * streamed HTTP bodies, visible at scrape time while they flow and not counted again at the end.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { METRICS } from '../../sidecar/contract';
import { stopAll, waitFor } from '../support/servers';
import { metricValue, scrape } from './helpers';
import { ProxiedSidecar, startProxySidecar, startUpstream, Upstream } from './upstream';

const AGENT = { gen_ai_agent_name: 'planner' };
const op = (operation: string) => ({ ...AGENT, gen_ai_operation_name: operation });

async function bytesOf(sc: ProxiedSidecar, operation: string): Promise<{ req: number; res: number; inflight: number; ok: number }> {
  const s = await scrape(sc.metricsUrl);
  return {
    req: metricValue(s, METRICS.proxyRequestBytes, op(operation)) ?? 0,
    res: metricValue(s, METRICS.proxyResponseBytes, op(operation)) ?? 0,
    inflight: metricValue(s, METRICS.inflight, AGENT) ?? 0,
    ok: metricValue(s, METRICS.invocations, { ...op(operation), outcome: 'success' }) ?? 0,
  };
}

describe('inbound proxy: bytes', () => {
  let up: Upstream;
  let sc: ProxiedSidecar;
  /** Bytes the agent received on its tunnel side. */
  let agentGot = 0;
  beforeAll(async () => {
    up = await startUpstream();
    up.onUpgrade((_req, socket, head) => {
      // The greeting goes out with the 101, in the same write: the proxy reads it with the handshake.
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\nWELCOME');
      agentGot += head.length;
      if (head.length) socket.write(head);
      socket.on('data', (d: Buffer) => {
        agentGot += d.length;
        socket.write(d); // echo
      });
      socket.on('end', () => socket.end());
    });
    sc = await startProxySidecar(up.url, ['--agent-name', 'planner']);
  });
  afterAll(() => stopAll(sc, up));

  test('a websocket tunnel: bytes each way are counted as they flow, exactly, without the handshake headers', async () => {
    const client = net.connect(sc.proxyPort, '127.0.0.1');
    let received = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    await new Promise<void>((r) => client.once('connect', () => r()));
    // Handshake and the first bytes in one write: they reach the proxy with the handshake.
    client.write('GET /ws HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nx-agent-operation: tunnel\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nabc');
    const bodyOf = () => {
      const text = received.toString('latin1');
      const i = text.indexOf('\r\n\r\n');
      return i < 0 ? '' : text.slice(i + 4);
    };
    await waitFor(() => bodyOf() === 'WELCOMEabc', { what: 'greeting and first echo' });
    expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    const big = Buffer.alloc(300_000, 'x');
    client.write(big);
    await waitFor(() => bodyOf().length === 10 + big.length, { what: 'the large write echoed' });
    expect(agentGot).toBe(3 + big.length);

    // The tunnel is still open: the counters already show what went through.
    const live = await waitFor(async () => {
      const b = await bytesOf(sc, 'tunnel');
      return b.req === 3 + big.length && b.res === 7 + 3 + big.length ? b : undefined;
    }, { what: 'live tunnel bytes' });
    expect(live.inflight).toBe(1);
    expect(live.ok).toBe(0);

    client.end();
    await closed;
    const after = await waitFor(async () => {
      const b = await bytesOf(sc, 'tunnel');
      return b.ok === 1 ? b : undefined;
    }, { what: 'the tunnel ended' });
    // Not counted again when the tunnel closes.
    expect(after.req).toBe(3 + big.length);
    expect(after.res).toBe(10 + big.length);
    expect(after.inflight).toBe(0);
  });

  test('a streamed HTTP response: bytes are counted while it streams, once', async () => {
    let finish: (() => void) | undefined;
    up.route('/stream', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      finish = () => res.end('data: two\n\n');
    });
    let live: Awaited<ReturnType<typeof bytesOf>> | undefined;
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${sc.proxyUrl}/stream`, { method: 'POST', agent: false, headers: { 'x-agent-operation': 'stream' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
          if (text !== 'data: one\n\n') return;
          // Mid-stream: the first chunk must already be counted.
          waitFor(async () => {
            const b = await bytesOf(sc, 'stream');
            return b.res === 11 ? b : undefined;
          }, { what: 'live response bytes' }).then((b) => {
            live = b;
            finish!();
          }, reject);
        });
        res.on('end', () => resolve(text));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end('payload');
    });
    expect(live).toMatchObject({ req: 7, res: 11, ok: 0, inflight: 1 });
    expect(body).toBe('data: one\n\ndata: two\n\n');
    const after = await waitFor(async () => {
      const b = await bytesOf(sc, 'stream');
      return b.ok === 1 ? b : undefined;
    }, { what: 'the stream ended' });
    expect(after.req).toBe(7);
    expect(after.res).toBe(22);
  });
});
