/** The matrix as pictures (Mermaid, Graphviz DOT) and as a table, for GitOps review. */
import type { FlowCell, FlowKind, TrafficMatrix } from './matrix';

const STYLE: Record<FlowKind, { mermaid: string; dot: string }> = {
  call: { mermaid: '-->', dot: 'solid' },
  ingress: { mermaid: '==>', dot: 'bold' },
  scrape: { mermaid: '-.->', dot: 'dotted' },
  egress: { mermaid: '-->', dot: 'dashed' },
  dependency: { mermaid: '-->', dot: 'dashed' },
};

function ids(cells: readonly FlowCell[]): Map<string, string> {
  const names = [...new Set(cells.flatMap((c) => [c.from, c.to]))].sort();
  return new Map(names.map((n, i) => [n, `n${i}`]));
}

/** Allowed flows as a Mermaid flowchart (only allowed edges: what the cluster will let through). */
export function toMermaid(m: TrafficMatrix): string {
  const allowed = m.cells.filter((c) => c.allowed);
  const id = ids(allowed);
  const lines = ['flowchart LR'];
  for (const [name, i] of id) lines.push(`  ${i}["${name.replace(/"/g, '#quot;')}"]`);
  for (const c of allowed) lines.push(`  ${id.get(c.from)} ${STYLE[c.kind].mermaid}${c.kind === 'call' ? '' : `|${c.kind}|`} ${id.get(c.to)}`);
  return lines.join('\n') + '\n';
}

/** Allowed flows as a Graphviz digraph. */
export function toDot(m: TrafficMatrix): string {
  const allowed = m.cells.filter((c) => c.allowed);
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const agents = new Set(m.agents);
  const lines = ['digraph traffic {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  for (const name of [...new Set(allowed.flatMap((c) => [c.from, c.to]))].sort()) {
    lines.push(`  ${q(name)}${agents.has(name) ? '' : ' [shape=ellipse]'};`);
  }
  for (const c of allowed) lines.push(`  ${q(c.from)} -> ${q(c.to)} [style=${STYLE[c.kind].dot}${c.kind === 'call' ? '' : `, label=${c.kind}`}];`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Every cell as text lines: `ALLOW|DENY kind from -> to: reason`. */
export function toTable(m: TrafficMatrix): string {
  const width = Math.max(4, ...m.cells.map((c) => c.from.length));
  return m.cells
    .map((c) => `${c.allowed ? 'ALLOW' : 'DENY '} ${c.kind.padEnd(10)} ${c.from.padEnd(width)} -> ${c.to}${c.allowed ? '' : `: ${c.reason}`}`)
    .join('\n') + '\n';
}

/** The agent-to-agent cells as a square grid (x: allowed). */
export function toGrid(m: TrafficMatrix): string {
  const allowed = new Set(m.cells.filter((c) => c.kind === 'call' && c.allowed).map((c) => `${c.from}\u0000${c.to}`));
  // Row labels are `NN name`; the header and every row pad to the widest of them.
  const num = String(m.agents.length).length;
  const label = (a: string, i: number) => `${String(i + 1).padStart(num)} ${a}`;
  const w = Math.max('caller \\ callee'.length, ...m.agents.map((a, i) => label(a, i).length));
  const cw = Math.max(2, num);
  const header = `${'caller \\ callee'.padEnd(w)} | ${m.agents.map((_a, i) => String(i + 1).padStart(cw)).join(' ')}`;
  const rows = m.agents.map((a, i) => `${label(a, i).padEnd(w)} | ${m.agents.map((b) => (allowed.has(`${a}\u0000${b}`) ? 'x' : '.').padStart(cw)).join(' ')}`);
  return [header, ...rows].join('\n') + '\n';
}
