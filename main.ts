import { App, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { AgentService, MeshPolicy, MonitoringStack } from './constructs';
import { synthApp } from './testing';

/**
 * Example: a planner that delegates to a researcher and a coder, in namespace multi-agents.
 * `npm run synth` writes dist/, which is committed so GitOps reviews see every change.
 */
export class MultiAgentChart extends Chart {
  public readonly planner: AgentService;
  public readonly researcher: AgentService;
  public readonly coder: AgentService;
  public readonly mesh: MeshPolicy;
  public readonly monitoring: MonitoringStack;

  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, { namespace: 'multi-agents', disableResourceNameHashes: true, ...props });

    const modelKey = { OPENAI_API_KEY: { secretName: 'model-provider', key: 'openai-api-key' } };

    this.planner = new AgentService(this, 'planner', {
      image: 'ghcr.io/example/planner-agent:1.4.2',
      component: 'orchestrator',
      team: 'agents-core',
      env: { LOG_LEVEL: 'info', RESEARCHER_URL: 'http://researcher:8080', CODER_URL: 'http://coder:8080' },
      secretEnv: modelKey,
      autoscaling: { minReplicas: 2, maxReplicas: 6 },
      slo: { availability: 99.5, latencyP95Seconds: 30 },
    });

    this.researcher = new AgentService(this, 'researcher', {
      image: 'ghcr.io/example/researcher-agent:2.0.1',
      team: 'agents-core',
      env: { LOG_LEVEL: 'info', SEARCH_TIMEOUT_SECONDS: '60' },
      secretEnv: modelKey,
      resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '2Gi' } },
      autoscaling: { minReplicas: 2, maxReplicas: 12, targetCpuPercent: 60 },
      slo: { availability: 99, latencyP95Seconds: 60 },
    });

    this.coder = new AgentService(this, 'coder', {
      image: 'ghcr.io/example/coder-agent:0.9.0',
      team: 'agents-dev',
      env: { LOG_LEVEL: 'info', SANDBOX: 'gvisor' },
      secretEnv: modelKey,
      replicas: 3,
      terminationGracePeriodSeconds: 600,   // long sandboxed runs: above the 300 s route timeout plus the 15 s drain
      canary: { image: 'ghcr.io/example/coder-agent:1.0.0-rc.1' },
    });

    // Zero trust: the planner may call the researcher and the coder; nothing else talks to anything.
    this.mesh = new MeshPolicy(this, 'mesh', {
      services: [this.planner, this.researcher, this.coder],
      agents: {
        // The planner keeps conversation state per replica: pin a conversation to one replica.
        planner: { sessionAffinityHeader: 'x-conversation-id' },
        // 10% of the coder's traffic goes to the 1.0.0-rc.1 canary; `x-agent-track: canary` pins a request to it.
        coder: {
          canary: { weight: 10 },
          routes: [{ name: 'coder-canary-pin', headers: { 'x-agent-track': 'canary' }, subset: 'canary' }],
        },
      },
      egress: { hosts: ['api.openai.com'] },
    });
    this.mesh.allow(this.planner, [this.researcher, this.coder]);
    this.mesh.allowIngress(this.planner, { namespaces: ['istio-ingress'] });

    // Scrape config, alerts with runbooks, SLO burn-rate alerts and a dashboard for the system;
    // kube-prometheus-stack only picks up rules and monitors carrying its release label.
    this.monitoring = new MonitoringStack(this, 'monitoring', {
      services: [this.planner, this.researcher, this.coder],
      labels: { release: 'kube-prometheus-stack' },
      // STRICT mTLS stays on the metrics port: Prometheus scrapes with Istio's certificate (docs/mesh-policy.md).
      meshTls: true,
    });
  }
}

export function buildApp(app = new App()): App {
  new MultiAgentChart(app, 'multi-agents');
  return app;
}

if (require.main === module) {
  // Like app.synth(), and records each object's construct path for the validation report.
  synthApp(buildApp());
}
