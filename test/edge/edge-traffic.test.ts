import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import { AgentSystem, AgentSystemProps } from '../../system/agent-system';
import { TrafficModel } from '../../testing/traffic';
import type { TrafficJwt, TrafficSource } from '../../testing/traffic';

/** The flows the edge admits and refuses, on examples/edge-system.yaml, through the traffic model. */
const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'edge-system.yaml');
const chart = new Chart(Testing.app(), 'edge', { disableResourceNameHashes: true });
new AgentSystem(chart, 'chat-assistant', YAML.parse(fs.readFileSync(EXAMPLE, 'utf8')) as AgentSystemProps);
// The gateway pods are not in the objects: they run in istio-ingress, in the mesh.
const model = new TrafficModel(Testing.synth(chart), { meshNamespaces: ['chat', 'istio-ingress'] });

const gatewayPod: TrafficSource = { pod: { namespace: 'istio-ingress', labels: { istio: 'ingressgateway' }, serviceAccount: 'istio-ingressgateway', mesh: 'sidecar' } };
const token = (claims: TrafficJwt['claims'], issuer = 'https://auth.example.com/'): TrafficJwt => ({ issuer, subject: 'alice', audiences: ['chat-api'], claims });
const user = token({ scope: 'chat:use' });
const developer = token({ scope: 'chat:use', groups: ['developers', 'staff'] });

const allowed = (source: TrafficSource, service: string, p: string, jwt?: TrafficJwt) => model.check(source, { service, port: 'http', path: p, method: 'POST', jwt });

test('gateway -> entry agent: only with a valid token of the issuer, audience and required claims', () => {
  expect(allowed(gatewayPod, 'chat', '/v1/chat', user).allowed).toBe(true);
  const noToken = allowed(gatewayPod, 'chat', '/v1/chat');
  expect(noToken.allowed).toBe(false);
  expect(noToken.reason).toMatch(/no rule of the ALLOW policies/);
  const otherIssuer = allowed(gatewayPod, 'chat', '/v1/chat', token({ scope: 'chat:use' }, 'https://evil.example.com/'));
  expect(otherIssuer.allowed).toBe(false);
  expect(otherIssuer.reason).toMatch(/^401: no jwtRule/);
  expect(allowed(gatewayPod, 'chat', '/v1/chat', { ...user, audiences: ['other-api'] }).allowed).toBe(false);
  expect(allowed(gatewayPod, 'chat', '/v1/chat', token({ scope: 'read-only' })).allowed).toBe(false);
});

test('per-route claims and paths: the coder takes /v1/code from developers only', () => {
  expect(allowed(gatewayPod, 'coder', '/v1/code/run', developer).allowed).toBe(true);
  expect(allowed(gatewayPod, 'coder', '/v1/code/run', user).allowed).toBe(false);
  expect(allowed(gatewayPod, 'coder', '/admin', developer).allowed).toBe(false);
});

test('nothing else reaches the entry agents from the gateway namespace, and agent-to-agent stays on mTLS principals', () => {
  const otherPod: TrafficSource = { pod: { namespace: 'istio-ingress', serviceAccount: 'default', mesh: 'sidecar' } };
  expect(allowed(otherPod, 'chat', '/v1/chat', user).allowed).toBe(false);
  expect(allowed({ pod: { namespace: 'istio-ingress', labels: { istio: 'ingressgateway' }, serviceAccount: 'istio-ingressgateway', mesh: 'none' } }, 'chat', '/', user).allowed).toBe(false);
  expect(allowed({ workload: 'chat' }, 'coder', '/v1/code', undefined).allowed).toBe(true);
  expect(allowed({ workload: 'coder' }, 'chat', '/', undefined).allowed).toBe(false);
});
