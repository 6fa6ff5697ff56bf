import { formatPath, objectId, Segment } from './paths';
import type { K8sObject, Severity } from './types';

/** A problem before severity overrides, exceptions and construct paths are applied. */
export interface RawProblem {
  readonly obj: K8sObject;
  readonly index: number;
  readonly rule: string;
  readonly severity: Severity;
  readonly path: string;
  readonly message: string;
}

/** Where rules put their findings. */
export class Collector {
  readonly problems: RawProblem[] = [];
  readonly notes: string[] = [];
  private readonly index = new Map<object, number>();
  private readonly seen = new Set<string>();

  constructor(readonly objects: readonly K8sObject[]) {
    objects.forEach((o, i) => this.index.set(o, i));
  }

  /** Adds a finding; the same rule at the same path of the same object is kept once. */
  add(obj: K8sObject, rule: string, path: readonly Segment[] | string, message: string, severity: Severity = 'error'): void {
    const p = typeof path === 'string' ? path : formatPath(path);
    const i = this.index.get(obj) ?? -1;
    const key = `${i}\u0000${rule}\u0000${p}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.problems.push({ obj, index: i, rule, severity, path: p, message });
  }

  note(message: string): void {
    if (!this.notes.includes(message)) this.notes.push(message);
  }

  id(obj: K8sObject): string {
    return objectId(obj);
  }
}
