/**
 * CEL (x-kubernetes-validations) in the validator: every pinned rule compiles, the Kubernetes
 * library functions the rules use behave like the API server's, and message, messageExpression,
 * fieldPath and reason are honoured. The broken/valid pairs on real CRDs are in the corpus.
 */
import { isCelError } from '@bufbuild/cel';
import { validateManifests } from '../../testing';
import { celRuleReport, CelRule, compileCel, evaluateCelRules } from '../../testing/cel';
import { escapeProperty, toCel } from '../../testing/cel/convert';
import { parseRequestUri } from '../../testing/cel/library';
import { Collector } from '../../testing/collector';
import type { K8sObject } from '../../testing';

const evalCel = (expr: string, self: unknown) => {
  const c = compileCel(expr);
  if (!c.ok) throw new Error(c.error);
  return c.program({ self: toCel(self, undefined) });
};

describe('the pinned CRDs', () => {
  test('every x-kubernetes-validations rule compiles (571 of 571; 6 transition rules are skipped on create)', () => {
    const r = celRuleReport();
    expect(r.failed).toEqual([]);
    expect(r.total).toBe(571);
    expect(r.compiled).toBe(571);
    expect(r.transition).toBe(6);
  });

  test('a program is compiled once per rule text and reused', () => {
    expect(compileCel('self.size() > 0')).toBe(compileCel('self.size() > 0'));
  });

  test('an unknown function does not compile', () => {
    const c = compileCel('self.isSorted()');
    expect(c.ok).toBe(false);
    expect(c.ok ? '' : c.error).toContain("'isSorted'");
  });

  test('transition rules (oldSelf) are skipped: a GrafanaDashboard with uid passes on create', async () => {
    const dash = {
      apiVersion: 'grafana.integreatly.org/v1beta1',
      kind: 'GrafanaDashboard',
      metadata: { name: 'd', namespace: 'monitoring' },
      spec: { uid: 'abc', instanceSelector: { matchLabels: { dashboards: 'grafana' } }, json: '{}' },
    };
    expect((await validateManifests([dash])).problems).toEqual([]);
  });

  test('cel: false turns the CEL rules off', async () => {
    const ap = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'a', namespace: 'agents' },
      spec: { selector: { matchLabels: { app: 'a' } }, targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'g' }] },
    };
    expect((await validateManifests([ap])).errors.map((e) => e.rule)).toEqual(['cel/validation']);
    expect((await validateManifests([ap], { cel: false })).errors).toEqual([]);
  });
});

describe('Kubernetes CEL library functions used by the pinned rules', () => {
  test('isURL / url(): absolute URIs and absolute paths, like url.ParseRequestURI', () => {
    expect(evalCel('isURL(self)', 'https://auth.example.com/jwks.json')).toBe(true);
    expect(evalCel('isURL(self)', '/just/a/path')).toBe(true);
    expect(evalCel('isURL(self)', 'ghcr.io/example/filter:1.0.0')).toBe(false);
    expect(evalCel('isURL(self)', 'http://a b')).toBe(false);
    expect(evalCel('isURL(self)', '')).toBe(false);
    expect(isCelError(evalCel('url(self).getScheme()', 'not a url'))).toBe(true);
  });

  test('URL getters', () => {
    const u = 'https://user@[::1]:8443/a%20b/c?x=1&x=2&y=3';
    expect(evalCel('url(self).getScheme()', u)).toBe('https');
    expect(evalCel('url(self).getHost()', u)).toBe('[::1]:8443');
    expect(evalCel('url(self).getHostname()', u)).toBe('::1');
    expect(evalCel('url(self).getPort()', u)).toBe('8443');
    expect(evalCel('url(self).getEscapedPath()', u)).toBe('/a%20b/c');
    expect(evalCel("url(self).getQuery()['x'] == ['1', '2']", u)).toBe(true);
    expect(evalCel('url(self).getScheme()', '/path')).toBe('');
    expect(parseRequestUri('oci://registry.example.com/filter')?.scheme).toBe('oci');
  });

  test('strings extension (split, substring), matches (RE2), duration, int, size, macros', () => {
    expect(evalCel('self.split("/")[0].size() < 253', 'example.com/key')).toBe(true);
    expect(evalCel('self.substring(7, 8) == "/"', 'unix:///var/run/x.sock')).toBe(true);
    expect(evalCel('self.matches(r"""^[a-z0-9]([-a-z0-9]*[a-z0-9])?$""")', 'http-metrics')).toBe(true);
    expect(evalCel('self.matches(r"""^[a-z0-9]([-a-z0-9]*[a-z0-9])?$""")', 'Bad_Name')).toBe(false);
    expect(evalCel("duration(self) >= duration('1ms')", '500us')).toBe(false);
    expect(evalCel("duration(self) >= duration('1ms')", '1.5s')).toBe(true);
    expect(evalCel('self.all(key, 0 < int(key) && int(key) <= 65535)', { '9464': {} })).toBe(true);
    expect(evalCel('self.all(key, 0 < int(key) && int(key) <= 65535)', { '70000': {} })).toBe(false);
    expect(evalCel('self.exists_one(x, x == 2) && self.filter(x, x > 1).size() == 2 && self.exists(x, x == 3)', [1, 2, 3])).toBe(true);
    expect(evalCel("self.startsWith('unix://') && !self.endsWith('/') && self.contains('run')", 'unix:///run/a')).toBe(true);
  });

  test('integers are CEL ints, reserved property names are escaped, defaults are applied', () => {
    const schema = {
      type: 'object',
      properties: {
        namespace: { type: 'string' },
        'my-field': { type: 'integer' },
        weight: { type: 'integer', default: 1 },
        ratio: { type: 'number' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
      },
    };
    const self = toCel({ namespace: 'a', 'my-field': 3, ratio: 2, labels: { 'app.kubernetes.io/name': 'x' } }, schema);
    const c = compileCel("self.__namespace__ == 'a' && self.my__dash__field == 3 && self.weight == 1 && self.ratio == 2.0 && self.labels['app.kubernetes.io/name'] == 'x' && type(self.weight) == int");
    expect(c.ok && c.program({ self })).toBe(true);
    expect(escapeProperty('x.y/z')).toBe('x__dot__y__slash__z');
  });
});

describe('rule fields', () => {
  const obj = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'agents' }, spec: { items: [{ min: 5, max: 3 }, { min: 1, max: 2 }] } } as K8sObject;
  const schema = {
    type: 'object',
    properties: { spec: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { min: { type: 'integer' }, max: { type: 'integer' } } } } } } },
  };
  const run = (rule: CelRule) => {
    const c = new Collector([obj]);
    evaluateCelRules(obj, schema, [rule], c);
    return c.problems.map((p) => [p.rule, p.path, p.message]);
  };

  test('message, and the rule itself when there is none; self is each list item', () => {
    expect(run({ path: ['spec', 'items', '[]'], rule: 'self.min <= self.max', message: 'min must not exceed max' })).toEqual([
      ['cel/validation', 'spec.items[0]', 'Invalid value: "object": min must not exceed max (rule: self.min <= self.max)'],
    ]);
    expect(run({ path: ['spec', 'items', '[]'], rule: 'self.min <= self.max' })[0][2]).toBe('Invalid value: "object": failed rule: self.min <= self.max (rule: self.min <= self.max)');
  });

  test('messageExpression, fieldPath and reason', () => {
    expect(
      run({
        path: ['spec', 'items', '[]'],
        rule: 'self.min <= self.max',
        message: 'fallback',
        messageExpression: "'min ' + string(self.min) + ' exceeds max ' + string(self.max)",
        fieldPath: '.min',
        reason: 'FieldValueForbidden',
      }),
    ).toEqual([['cel/validation', 'spec.items[0].min', 'Forbidden: min 5 exceeds max 3 (rule: self.min <= self.max)']]);
    // A messageExpression that fails falls back to message.
    expect(run({ path: ['spec', 'items', '[]'], rule: 'self.min <= self.max', message: 'fallback', messageExpression: 'self.nope' })[0][2]).toMatch(/: fallback/);
  });

  test('an evaluation error is reported as cel/evaluation-error', () => {
    expect(run({ path: ['spec'], rule: 'self.missing == 1' }).map((p) => p[0])).toEqual(['cel/evaluation-error']);
  });
});
