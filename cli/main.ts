#!/usr/bin/env node
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { systemSpecJsonSchemaText } from '../system/json-schema';
import { parseSystemSpec, SystemSpec, SystemSpecError } from '../system/system-spec';
import { BuiltSystem, buildSystem, Layout, LAYOUTS, OutputConflictError, renderSystem, writeOutput } from './render';
import { argsError, InvalidInput, UsageError } from './errors';
import { EXIT_FLOWS_DIFFER, runTraffic, TRAFFIC_HELP, TRAFFIC_USAGE } from './traffic';
import { Diagnostic, formatDiagnostic, issueToDiagnostic, loadSystemFile, SourceFile, sortDiagnostics } from './source';

/** Exit codes (documented in --help and docs/agent-system.md). */
export const EXIT = {
  ok: 0,
  /** The system file cannot be read, is not valid YAML, or does not describe a valid system. */
  invalidInput: 1,
  /** Unknown command or option, missing argument. */
  usage: 2,
  /** traffic --expect-declared: the allowed flows differ from the declared ones. */
  flowsDiffer: EXIT_FLOWS_DIFFER,
  /** A bug: anything else that went wrong (EX_SOFTWARE). */
  internal: 70,
} as const;

const VERSION = readVersion();

const HELP = `cdk8s-agents ${VERSION}: Kubernetes manifests for a whole agent system from one system.yaml

Usage:
  cdk8s-agents synth <system.yaml> [--out <dir>] [--layout single|per-agent|per-resource]
  cdk8s-agents validate <system.yaml>
  cdk8s-agents schema [--out <file>]
  cdk8s-agents traffic <system.yaml | manifests.yaml | dir> [--format table|grid|mermaid|dot|json]
                       [--out <file>] [--expect-declared] [--system <system.yaml>]
  cdk8s-agents help [command]
  cdk8s-agents --version

Commands:
  synth      Validate the system file and write its manifests, plus a kustomization.yaml
             listing them, into the output folder. The folder can be applied as it is by
             \`kubectl apply -k\`, Argo CD or Flux. The same input always gives byte-identical
             files (sorted keys, no timestamps, no random suffixes).
  validate   Check the system file (shape, every agent, unique ids, the call graph) and
             build every object in memory, without writing anything.
  schema     Print the JSON Schema of system.yaml (for editor completion), or write it
             to --out.
  traffic    Print which flows the objects allow (agent to agent, Prometheus scrapes,
             ingress, egress hosts, dependencies): a table, a grid, Mermaid or Graphviz
             DOT; --expect-declared fails when they differ from the declared call graph.
             See \`cdk8s-agents help traffic\`.

Options:
  -o, --out <dir>      synth: output folder (default: dist). Files listed by a previous
                       kustomization.yaml written by cdk8s-agents and not produced now are
                       removed; other files are left alone. A kustomization.yaml not written
                       by cdk8s-agents is never overwritten (exit 1).
                       schema: output file (default: standard output).
  -l, --layout <name>  synth: how objects are split into files (default: single):
                         single        one file, <system name>.yaml
                         per-agent     <agent>.yaml per agent, and _system.yaml for the
                                       objects of no single agent (mesh-wide, monitoring)
                         per-resource  <kind>-<name>.yaml per object, e.g. deployment-planner.yaml
  -q, --quiet          Print only errors.
  -h, --help           Show this help.
  -v, --version        Print the version.

The system file (YAML 1.2, one document):
  name: support            # system name (app.kubernetes.io/part-of). Default: the namespace, else multi-agents
  namespace: agents        # namespace of every agent. Default: the system name
  createNamespace: true    # write the Namespace, labelled istio-injection: enabled. Default: true
  agents:                  # camelCase (AgentService props) or the reference form (agent_id, ...)
    - name: planner
      image: ghcr.io/acme/planner:1.4.2
      calls: [researcher]  # call graph edges from this agent
      autoscaling: { metric: inflight, targetPerReplica: 4 }
    - agent_id: researcher
      image: ghcr.io/acme/researcher
      tag: 2.0.1
  calls: [[planner, researcher]]   # edges may also be listed here
  mesh: {...}              # MeshPolicy options
  monitoring: {...}        # MonitoringStack options, or false for none
  x-defaults: &d {...}     # top-level x- keys are ignored: room for anchors (agents: - <<: *d)
  Run \`cdk8s-agents schema\` for every field.

Errors are printed as <file>:<line>:<column>: <field>: <what is wrong and what is expected>.

Exit codes:
  0   success
  1   invalid input: the file cannot be read, is not valid YAML, or is not a valid system
      (or --out holds a kustomization.yaml that cdk8s-agents did not write)
  2   usage error: unknown command or option, missing or extra argument, --out is a file
      or cannot be written
  3   traffic --expect-declared: the objects allow an undeclared flow or deny a declared one
  70  internal error: a bug in cdk8s-agents; set CDK8S_AGENTS_DEBUG=1 for the stack trace

Environment:
  CDK8S_AGENTS_DEBUG=1   print stack traces of internal errors
`;

const COMMAND_HELP: Record<string, string> = {
  synth: 'Usage: cdk8s-agents synth <system.yaml> [--out <dir>] [--layout single|per-agent|per-resource] [--quiet]',
  validate: 'Usage: cdk8s-agents validate <system.yaml> [--quiet]',
  schema: 'Usage: cdk8s-agents schema [--out <file>]',
  traffic: TRAFFIC_USAGE,
  help: 'Usage: cdk8s-agents help [command]',
};

/** Where the CLI writes; replaceable in tests. */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
}


/** Runs the CLI and returns its exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`cdk8s-agents: ${e.message}\nRun \`cdk8s-agents --help\` for usage.\n`);
      return EXIT.usage;
    }
    if (e instanceof InvalidInput) {
      const ds = sortDiagnostics(e.diagnostics);
      io.stderr(ds.map((d) => formatDiagnostic(d)).join('\n') + '\n');
      io.stderr(`${ds.length} error${ds.length === 1 ? '' : 's'}.\n`);
      return EXIT.invalidInput;
    }
    if (e instanceof OutputConflictError) {
      io.stderr(`cdk8s-agents: ${e.message}\n`);
      return EXIT.invalidInput;
    }
    const err = e as Error;
    io.stderr(`cdk8s-agents: internal error: ${err?.message ?? String(e)}\n`);
    io.stderr(process.env.CDK8S_AGENTS_DEBUG ? `${err?.stack ?? ''}\n` : 'This is a bug in cdk8s-agents. Set CDK8S_AGENTS_DEBUG=1 for the stack trace.\n');
    return EXIT.internal;
  }
}

async function dispatch(argv: readonly string[], io: Io): Promise<number> {
  // traffic has options of its own (cli/traffic.ts).
  if (argv[0] === 'traffic') return runTraffic(argv.slice(1), io);
  const flags = {
    out: { type: 'string', short: 'o' },
    layout: { type: 'string', short: 'l' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: flags });
  } catch (e) {
    throw argsError(e, flags);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    io.stdout(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (values.help || command === undefined) {
    if (command !== undefined && command !== 'help' && COMMAND_HELP[command]) io.stdout(`${COMMAND_HELP[command]}\n\n`);
    io.stdout(HELP);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  const log = (text: string) => {
    if (!values.quiet) io.stdout(text);
  };
  switch (command) {
    case 'help':
      if (rest[0] !== undefined && !COMMAND_HELP[rest[0]]) throw new UsageError(`unknown command "${rest[0]}" (commands: synth, validate, schema, traffic, help)`);
      if (rest[0] === 'traffic') io.stdout(TRAFFIC_HELP);
      else if (rest[0] !== undefined) io.stdout(`${COMMAND_HELP[rest[0]]}\n\n`);
      if (rest[0] !== 'traffic') io.stdout(HELP);
      return EXIT.ok;
    case 'synth': {
      const file = onePositional('synth', rest);
      const layout = (values.layout ?? 'single') as Layout;
      if (!LAYOUTS.includes(layout)) throw new UsageError(`--layout must be one of ${LAYOUTS.join(', ')}, got "${values.layout}"`);
      const { source, spec } = load(file, io.cwd);
      const outDir = path.resolve(io.cwd, values.out ?? 'dist');
      if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) throw new UsageError(`--out ${values.out}: is a file, expected a folder`);
      const { files, objects } = withSource(source, () => renderSystem(spec, layout, path.basename(file)));
      let result: { written: string[]; removed: string[] };
      try {
        result = writeOutput(outDir, files);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (!code) throw e;
        throw new UsageError(`--out ${values.out ?? 'dist'}: cannot write the output (${code}: ${(e as Error).message.replace(/^\w+: /, '')})`);
      }
      const { written, removed } = result;
      const rel = displayPath(io.cwd, outDir);
      log(`${file}: ${count(spec.agents.length, 'agent')}, ${count(objects, 'object')} -> ${rel}/ (${count(files.size, 'file')}, layout ${layout}; ${written.length} written, ${files.size - written.length} unchanged${removed.length ? `, ${removed.length} stale removed` : ''})\n`);
      return EXIT.ok;
    }
    case 'validate': {
      if (values.out !== undefined || values.layout !== undefined) throw new UsageError('validate takes no --out or --layout');
      const file = onePositional('validate', rest);
      const { source, spec } = load(file, io.cwd);
      const built = withSource(source, () => buildSystem(spec));
      const checked = await validateObjects(source, spec, built);
      for (const w of checked.warnings) io.stderr(`${formatDiagnostic(w)}\n`);
      if (checked.errors.length > 0) throw new InvalidInput(checked.errors);
      log(`${file}: valid (${count(spec.agents.length, 'agent')}, ${count(spec.calls.length, 'call')}, ${count(built.objects.length, 'object')}${checked.note ? `; ${checked.note}` : ', checked against the Kubernetes and CRD schemas'})\n`);
      return EXIT.ok;
    }
    case 'schema': {
      if (rest.length > 0) throw new UsageError(`schema takes no arguments, got "${rest[0]}"`);
      if (values.layout !== undefined) throw new UsageError('schema takes no --layout');
      const text = systemSpecJsonSchemaText();
      if (values.out) {
        const target = path.resolve(io.cwd, values.out);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, text);
        log(`wrote ${displayPath(io.cwd, target)}\n`);
      } else {
        io.stdout(text);
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command "${command}" (commands: synth, validate, schema, traffic, help)`);
  }
}

/**
 * Runs the package's manifest validator (schemas of core kinds and CRDs, Pod Security and
 * naming policies) on the built objects; a problem points at the agent that owns the object.
 * The validator ships in lib/testing and needs the runtime dependencies ajv and kubernetes-models
 * (when a trimmed install lacks them, validation is skipped with a note).
 */
async function validateObjects(source: SourceFile, spec: SystemSpec, built: BuiltSystem): Promise<{ errors: Diagnostic[]; warnings: Diagnostic[]; note?: string }> {
  let testing: typeof import('../testing');
  try {
    testing = require('../testing');
  } catch (e) {
    return { errors: [], warnings: [], note: `schema validation skipped (${(e as Error).message.split('\n')[0]})` };
  }
  const jsons = built.objects.map((o) => o.json);
  const paths = new Map(built.objects.filter((o) => o.constructPath).map((o) => [o.json as object, o.constructPath!]));
  const result = await testing.validateManifests(jsons, { constructPaths: paths, promtool: 'auto' });
  const agentOf = new Map<string, number>();
  for (const o of built.objects) {
    const m = o.json.metadata;
    const index = spec.agents.find((a) => a.name === o.agent)?.index;
    if (index !== undefined) agentOf.set(m.namespace ? `${o.json.kind}/${m.namespace}/${m.name}` : `${o.json.kind}/${m.name}`, index);
  }
  const toDiagnostic = (p: { object: string; path: string; message: string; rule: string }) => {
    const index = agentOf.get(p.object);
    const d = issueToDiagnostic(source, { path: index !== undefined ? ['agents', index] : [], message: `${p.object}${p.path ? ` at ${p.path}` : ''}: ${p.message} [${p.rule}]` });
    return d;
  };
  return {
    errors: result.errors.map(toDiagnostic),
    warnings: result.warnings.map((w) => ({ ...toDiagnostic(w), message: `warning: ${toDiagnostic(w).message}` })),
    note: result.notes.length ? result.notes.join('; ') : undefined,
  };
}

function onePositional(command: string, rest: readonly string[]): string {
  if (rest.length === 0) throw new UsageError(`${command}: missing the system file (${COMMAND_HELP[command]})`);
  if (rest.length > 1) throw new UsageError(`${command}: expected one system file, got ${rest.length}: ${rest.join(' ')}`);
  return rest[0];
}

function load(file: string, cwd: string): { source: SourceFile; spec: SystemSpec } {
  // Test hook: lets the CLI tests check how an unexpected failure is reported (exit 70).
  if (process.env.CDK8S_AGENTS_TEST_INTERNAL_ERROR === '1') throw new TypeError('injected failure (CDK8S_AGENTS_TEST_INTERNAL_ERROR=1)');
  const loaded = loadSystemFile(file, cwd);
  if (!loaded.ok) throw new InvalidInput(loaded.diagnostics);
  const parsed = parseSystemSpec(loaded.source.value);
  if (!parsed.success) throw new InvalidInput(parsed.issues.map((i) => issueToDiagnostic(loaded.source, i)));
  return { source: loaded.source, spec: parsed.data };
}

// Errors the constructs raise while building (mapped to spec paths by AgentSystem) point at the file too.
function withSource<T>(source: SourceFile, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof SystemSpecError) throw new InvalidInput(e.issues.map((i) => issueToDiagnostic(source, i)));
    throw e;
  }
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// Relative to the working directory when inside it, else absolute.
function displayPath(cwd: string, p: string): string {
  const rel = path.relative(cwd, p);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

function readVersion(): string {
  for (const candidate of ['../../package.json', '../package.json']) {
    try {
      return (JSON.parse(fs.readFileSync(path.join(__dirname, candidate), 'utf8')) as { version: string }).version;
    } catch {
      // try the next location (lib/cli/ when built, cli/ under ts-node)
    }
  }
  return '0.0.0';
}

if (require.main === module) {
  run(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
  }).then((code) => {
    process.exitCode = code;
  });
}
