/**
 * Pure parts of the sidecar: configuration, record validation, label folding and the
 * quantile sketch's accuracy against exact percentiles.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, OPTIONS, parseConfig } from '../../sidecar/config';
import { METRICS, SIDECAR_API_HOST, SIDECAR_API_PORT, SIDECAR_ENV, SIDECAR_METRICS_PORT } from '../../sidecar/contract';
import { LabelLimiter } from '../../sidecar/labels';
import { newSketch, SKETCH_RELATIVE_ACCURACY, StatsCollector } from '../../sidecar/stats';
import { validateBatch, validateRecord } from '../../sidecar/validate';

describe('parseConfig', () => {
  test('defaults match the contract', () => {
    const c = parseConfig([], {});
    expect(c).toMatchObject({
      metricsHost: '0.0.0.0',
      metricsPort: SIDECAR_METRICS_PORT,
      apiHost: SIDECAR_API_HOST,
      apiPort: SIDECAR_API_PORT,
      redisUrl: undefined,
      processMetrics: true,
    });
  });

  test('every option has a distinct flag and a SIDECAR_ENV variable', () => {
    const envs = new Set(Object.values(SIDECAR_ENV));
    for (const o of OPTIONS) expect(envs.has(o.env as any)).toBe(true);
    expect(new Set(OPTIONS.map((o) => o.flag)).size).toBe(OPTIONS.length);
    expect(new Set(OPTIONS.map((o) => o.env)).size).toBe(OPTIONS.length);
  });

  test('flags win over env; --flag=value, booleans and --no-flag work', () => {
    const c = parseConfig(['--api-port=1234', '--no-process-metrics', '--redis-url', 'redis://r:6379/0'], {
      [SIDECAR_ENV.apiPort]: '999',
      [SIDECAR_ENV.cacheMaxEntries]: '77',
    });
    expect(c.apiPort).toBe(1234);
    expect(c.cacheMaxEntries).toBe(77);
    expect(c.processMetrics).toBe(false);
    expect(c.redisUrl).toBe('redis://r:6379/0');
  });

  test.each([
    [['--api-port', '70000'], /port number/],
    [['--api-port'], /needs a value/],
    [['positional'], /unexpected argument/],
    [['--cache-max-bytes', '10'], />= 1024/],
    [['--cache-max-value-bytes', '999999999', '--cache-max-bytes', '2048'], /exceeds --cache-max-bytes/],
    [['--metrics-host', '127.0.0.1', '--api-host', '127.0.0.1', '--metrics-port', '5000', '--api-port', '5000'], /cannot share/],
  ])('%j is refused', (argv, msg) => {
    expect(() => parseConfig(argv as string[], {})).toThrow(ConfigError);
    expect(() => parseConfig(argv as string[], {})).toThrow(msg as RegExp);
  });
});

describe('validation', () => {
  test('a full record passes and keeps its fields', () => {
    const errors: any[] = [];
    const r = validateRecord({ agent: 'a', operation: 'o', durationMs: 0, success: false, errorType: 'E', model: 'm', inputTokens: 0, outputTokens: 5 }, 0, 'd', errors);
    expect(errors).toEqual([]);
    expect(r).toEqual({ agent: 'a', operation: 'o', durationMs: 0, success: false, errorType: 'E', model: 'm', inputTokens: 0, outputTokens: 5 });
  });

  test('NaN and Infinity cannot sneak in', () => {
    for (const d of [NaN, Infinity]) {
      const errors: any[] = [];
      validateRecord({ operation: 'o', durationMs: d, success: true }, 0, 'd', errors);
      expect(errors[0].field).toBe('durationMs');
    }
  });

  test('batches are all-or-nothing and size-capped', () => {
    const good = { operation: 'o', durationMs: 1, success: true };
    expect(validateBatch([good, good], 'd', 10).records).toHaveLength(2);
    expect(validateBatch([good, {}], 'd', 10).records).toHaveLength(0);
    expect(validateBatch(new Array(11).fill(good), 'd', 10).tooMany).toBe(11);
    expect(validateBatch([], 'd', 10)).toEqual({ records: [], errors: [] });
  });
});

describe('LabelLimiter', () => {
  test('keeps the first N values per label and folds the rest into other', () => {
    const l = new LabelLimiter(3, 1000);
    const agents = ['a', 'b', 'c', 'd', 'e', 'a'].map((x) => l.resolve(x, 'op', '', '').tuple.agent);
    expect(agents).toEqual(['a', 'b', 'c', 'other', 'other', 'a']);
    expect(l.agent.folded).toBe(2);
  });

  test('caps the number of combinations', () => {
    const l = new LabelLimiter(100, 10);
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i++) keys.add(l.resolve(`a${i % 5}`, `op${i}`, '', '').key);
    // 10 combinations kept, plus one folded combination per agent value.
    expect(keys.size).toBeLessThanOrEqual(10 + 5);
    // op0..op99 pass the per-label cap but op10..op99 hit the combination cap; op100+ fold per label.
    expect(l.seriesFolded).toBe(90);
    expect(l.operation.folded).toBe(900);
  });
});

describe('quantile sketch accuracy', () => {
  test('p50/p90/p95/p99/p999 of 200k log-normal latencies are within the stated relative error', () => {
    // Deterministic PRNG so the test cannot flake.
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const n = 200_000;
    const values = new Float64Array(n);
    const sketch = newSketch();
    for (let i = 0; i < n; i++) {
      const u1 = Math.max(rand(), 1e-12);
      const u2 = rand();
      const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      const v = Math.exp(6 + 1.2 * z); // median ~400 ms, long tail
      values[i] = v;
      sketch.accept(v);
    }
    values.sort();
    for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = values[Math.ceil(q * n) - 1];
      const approx = sketch.getValueAtQuantile(q);
      expect(Math.abs(approx - exact) / exact).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY + 1e-9);
    }
  });
});

describe('docs/sidecar.md', () => {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'sidecar.md'), 'utf8');

  test('documents every flag with its env var and default', () => {
    for (const o of OPTIONS) {
      const def = o.default === undefined ? 'unset' : Array.isArray(o.default) ? 'none' : `\`${o.default}\``;
      expect(text).toContain(`| \`${o.flag}\` | \`${o.env}\` | ${def} |`);
    }
  });

  test('documents every metric', () => {
    for (const name of Object.values(METRICS)) expect(text).toContain(`\`${name}\``);
  });
});

describe('dependency rule', () => {
  test('sidecar/ imports only node builtins, its own modules and its five runtime packages', () => {
    const allowed = new Set(['prom-client', 'lru-cache', 'pino', 'ioredis', '@datadog/sketches-js']);
    const dir = path.join(__dirname, '..', '..', 'sidecar');
    const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toContain(path.join('gateway', 'gateway.ts'));
    for (const file of files) {
      const src = fs.readFileSync(path.join(dir, file), 'utf8');
      const specs = [...src.matchAll(/(?:from\s+|require\(|import\()'([^']+)'/g)].map((m) => m[1]);
      for (const spec of specs) {
        // Relative imports must stay inside sidecar/.
        const inside = (spec.startsWith('./') || spec.startsWith('../')) && path.resolve(dir, path.dirname(file), spec).startsWith(dir + path.sep);
        const ok = inside || spec.startsWith('node:') || allowed.has(spec);
        if (!ok) throw new Error(`sidecar/${file} imports "${spec}": the sidecar image carries no other package`);
      }
    }
  });
});

describe('StatsCollector', () => {
  test('recent throughput covers the last 60 full seconds; lifetime throughput since the first record', () => {
    const stats = new StatsCollector(10);
    const t0 = 1_700_000_000_000;
    // 2 records per second for 120 s.
    for (let sec = 0; sec < 120; sec++) {
      for (let i = 0; i < 2; i++) stats.observe('a', { agent: 'a', operation: 'o', durationMs: 10, success: true }, t0 + sec * 1000 + i);
    }
    const s = stats.summary(t0 + 120_500).agents[0];
    expect(s.recentThroughputPerSecond).toBeCloseTo(2, 6);
    expect(s.throughputPerSecond).toBeCloseTo(240 / 120.5, 2);
    // Ten quiet minutes later the recent figure is zero, the lifetime one is not.
    const later = stats.summary(t0 + 720_000).agents[0];
    expect(later.recentThroughputPerSecond).toBe(0);
    expect(later.throughputPerSecond).toBeGreaterThan(0);
  });

  test('error types and operations per agent are bounded', () => {
    const stats = new StatsCollector(3);
    for (let i = 0; i < 50; i++) stats.observe('a', { agent: 'a', operation: `op${i}`, durationMs: 1, success: false, errorType: `E${i}` }, 1000);
    const s = stats.summary(2000).agents[0];
    expect(s.operations.length).toBeLessThanOrEqual(3);
    expect(s.operations.find((o) => o.operation === 'other')!.count).toBe(47);
    expect(s.topErrors.length).toBeLessThanOrEqual(5);
  });
});
