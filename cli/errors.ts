import { didYouMean } from '../system/zod-issues';
import type { Diagnostic } from './source';

/** Unknown command or option, missing argument (exit 2). */
export class UsageError extends Error {}

/** Problems with the input, each at a file position (exit 1). */
export class InvalidInput extends Error {
  constructor(public readonly diagnostics: Diagnostic[]) {
    super(`${diagnostics.length} problem(s)`);
  }
}

/**
 * A util.parseArgs error as a UsageError: an unknown option names the closest known one
 * (`Unknown option '--layot'; did you mean "--layout"?`).
 */
export function argsError(e: unknown, options: Readonly<Record<string, unknown>>, prefix = ''): UsageError {
  const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  const hint = (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown ? didYouMean(unknown[1], Object.keys(options).map((name) => `--${name}`)) : '';
  return new UsageError(`${prefix}${message}${hint}`);
}
