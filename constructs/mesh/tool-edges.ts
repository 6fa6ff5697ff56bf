import { AgentSpec } from '../spec';

/** Call graph edges of the agents' `agent` tools, and what keeps one from being an edge. */
export interface ToolEdges {
  /** `[caller, callee]` by agent name. */
  readonly edges: ReadonlyArray<readonly [string, string]>;
  readonly problems: string[];
}

/**
 * An `agent` tool (an MCP server that is another agent) is a call the mesh must allow: each
 * becomes an edge when its agent is in `specs` (the mesh's services, all in `namespace`) at the
 * port the tool URL uses. Anything else would synthesize a policy that denies the tool's calls,
 * so it is a problem naming the field.
 */
export function agentToolEdges(specs: readonly AgentSpec[], namespace: string): ToolEdges {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const members = [...byName.keys()].sort().join(', ');
  const edges: [string, string][] = [];
  const problems: string[] = [];
  specs.forEach((caller, i) => {
    for (const tool of caller.tools) {
      if (tool.kind !== 'agent' || tool.agent === undefined || tool.agent === caller.name) continue;
      const field = `services[${i}] (${caller.constructPath}): tools.${tool.name}`;
      const url = new URL(tool.url);
      const toolNamespace = url.hostname.split('.')[1];
      const callee = toolNamespace === namespace ? byName.get(tool.agent) : undefined;
      if (!callee) {
        const where = toolNamespace === namespace ? '' : ` in namespace ${toolNamespace}`;
        problems.push(`${field}.agent: agent "${tool.agent}"${where} is not in this mesh's services (${members}); add its AgentService to services, or use a { service } tool`);
        continue;
      }
      const port = Number(url.port || 80);
      if (port !== callee.port) {
        problems.push(`${field}.port: (${port}) is not the port of agent "${callee.name}" (${callee.port}); set port: ${callee.port}`);
        continue;
      }
      edges.push([caller.name, callee.name]);
    }
  });
  return { edges, problems };
}
