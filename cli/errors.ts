import type { Diagnostic } from './source';

/** Unknown command or option, missing argument (exit 2). */
export class UsageError extends Error {}

/** Problems with the input, each at a file position (exit 1). */
export class InvalidInput extends Error {
  constructor(public readonly diagnostics: Diagnostic[]) {
    super(`${diagnostics.length} problem(s)`);
  }
}
