import * as fs from 'fs';
import { Yaml } from 'cdk8s';
import * as YAML from 'yaml';
import { emitDocument, emitDocuments } from '../../cli/emit';
import { buildSystem } from '../../cli/render';
import { parseSystemSpec } from '../../system/system-spec';
import { EXAMPLE } from './support';

// The CLI's YAML emitter must give the same data as cdk8s's Yaml.stringify, under YAML 1.1
// (go-yaml, kubectl) and 1.2 readers alike.
function roundTrip(value: unknown, version: '1.1' | '1.2') {
  return YAML.parse(emitDocument(value), { version });
}

const TRICKY_STRINGS = [
  'yes', 'Yes', 'on', 'OFF', 'y', 'n', 'NO', 'true', 'False', 'null', 'Null', '~', '',
  '1e3', '0x1F', '0o17', '012', '1_000', '12:30', '190:20:30', '2024-01-01', '2001-12-14t21:59:43.10-05:00', '1.5', '.5', '-1', '+1', '1.',
  '.inf', '-.inf', '.NaN', '=', '<<', ' lead', 'trail ', 'a: b', 'a #b', 'a:', '#x', '- x', '-x', '--max-old-space-size=192', '---', '---x', '-', '--', '-1x', '-.5', '-_a', '-a: b', '-a #b', '? x', '?x', ':x', '@x', '`x', '!x', '&x', '*x',
  '|x', '>x', '%x', '"x', "'x", '[x', ']x', '{x', '}x', ',x', 'a,b', 'a[0]', 'x{y}', 'http://a.b:80/c?d=e&f=g#h', 'a#b', 'a # b',
  'multi\nline', 'multi\nline\n', 'x\n\n', '\nlead', ' \n', 'a\n  b\n', 'a\n\nb', 'line\n \nspaces-only line', 'trailing space \nline', '# comment\nline',
  'tab\tin', 'a\r\nb', '\u2028', 'x\u0085y', '\u0000', '\u007f', '\u0080x', 'x\u009f', '\ufeffx', 'a\u2029b', 'ünïcode', '😀', '\ud800',
  '100m', '256Mi', '1.5Gi', '30s', '1h', '0.0.0.0/0', '1.0.0-rc.1', '127.0.0.1', '1.2.3.4.5', '1e', 'e1', '0', '00', '0.0', '1:2',
  'rate(agent_invocations_total{outcome="error"}[5m])\n/\nrate(agent_invocations_total[5m]) > 0.05',
];

describe('emit', () => {
  test.each(TRICKY_STRINGS.map((s) => [s]))('string %j round-trips as a value, a key and a list item', (s) => {
    const value = { [s]: s, list: [s, [s, { [s]: [s] }]], nested: { deeper: s } };
    for (const v of ['1.1', '1.2'] as const) expect(roundTrip(value, v)).toEqual(value);
  });

  test('seeded fuzz: 3000 random strings of YAML-significant characters round-trip under 1.1 and 1.2', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = ['a', 'Z', '0', '1', '9', ' ', ':', '#', '-', '?', '.', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '\n', '\t', '\\', '/', '_', '=', '<', '~', 'e', 'x', 'y', 'n', 'o', 'T', 'N', 'ü', '\u2028'];
    const strings: string[] = [];
    for (let i = 0; i < 3000; i++) {
      let str = '';
      const len = 1 + rand(8);
      for (let j = 0; j < len; j++) str += alphabet[rand(alphabet.length)];
      strings.push(str);
    }
    const value = { list: strings, map: Object.fromEntries(strings.map((x, i) => [x, i])) };
    for (const v of ['1.1', '1.2'] as const) expect(roundTrip(value, v)).toEqual(value);
  });

  test('numbers, booleans, null and empty collections round-trip', () => {
    const value = {
      ints: [0, 1, -1, 65535, Number.MAX_SAFE_INTEGER],
      floats: [0.5, -2.25, 99.95, 1e21, 1e-7, 123456789.123],
      bools: [true, false],
      nothing: null,
      empties: { map: {}, list: [], inList: [{}, [], ''] },
      deep: [[[1, 2], []], [{ a: [] }]],
    };
    for (const v of ['1.1', '1.2'] as const) expect(roundTrip(value, v)).toEqual(value);
  });

  test('multi-line strings are literal blocks, as cdk8s writes them', () => {
    const text = emitDocument({ data: { 'rules.yaml': 'groups:\n  - name: a\n' } });
    expect(text).toBe('data:\n  rules.yaml: |\n    groups:\n      - name: a\n');
  });

  test('the example system: byte-identical to cdk8s Yaml.stringify and the same data', () => {
    const parsed = parseSystemSpec(YAML.parse(fs.readFileSync(EXAMPLE, 'utf8')));
    if (!parsed.success) throw new Error('example invalid');
    const objects = buildSystem(parsed.data).objects.map((o) => o.json);
    const ours = emitDocuments(objects);
    expect(YAML.parseAllDocuments(ours, { version: '1.1' }).map((d) => d.toJS())).toEqual(objects);
    expect(ours).toBe(Yaml.stringify(...objects));
  });
});
