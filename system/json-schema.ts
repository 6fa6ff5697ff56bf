import { z } from 'zod';
import { defOf } from './zod-issues';
import { EXTENSION_PREFIX, systemSpecSchema } from './system-spec';

/**
 * The JSON Schema of the system spec (draft 2020-12), for editor completion
 * (`# yaml-language-server: $schema=.../system.schema.json`).
 */
export function systemSpecJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(systemSpecSchema, {
    target: 'draft-2020-12',
    unrepresentable: 'any',
    io: 'input',
    override: (ctx) => {
      // A preprocess step (`loadBalancer: 'random'` for `{ strategy: 'random' }`) accepts a
      // string shorthand that the output schema alone does not show.
      const d = defOf(ctx.zodSchema);
      if (d.type === 'pipe' && defOf(d.in).type === 'transform') {
        const out = { ...ctx.jsonSchema };
        for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[k];
        Object.assign(ctx.jsonSchema, { anyOf: [{ type: 'string' }, out] });
      }
    },
  }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: 'https://github.com/cdk8s-agents/cdk8s-agents/schemas/system.schema.json',
    title: 'cdk8s-agents system spec',
    description: 'A whole agent system: agents (camelCase or the reference snake_case form), call graph, mesh and monitoring. Used by `cdk8s-agents synth|validate` and the AgentSystem construct.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
    patternProperties: { [`^${EXTENSION_PREFIX}`]: { description: 'Ignored: room for YAML anchors shared by agents (`<<: *defaults`).' } },
  };
}

/** The JSON Schema as the bytes committed in schemas/system.schema.json. */
export function systemSpecJsonSchemaText(): string {
  return `${JSON.stringify(systemSpecJsonSchema(), null, 2)}\n`;
}
