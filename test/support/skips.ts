/**
 * Skipped server-backed tests, made loud twice: a console.warn where the skip happens, and a line
 * in the summary that test/support/skip-reporter.js prints at the end of the jest run (a file's
 * console output scrolls away, or is not shown at all, when several files run).
 *
 * The reporter names a file in SKIP_FILE_ENV before the workers start; every skip appends one JSON
 * line to it. Without the variable (jest run with another config) only the warning is printed.
 */
import * as fs from 'node:fs';

export const SKIP_FILE_ENV = 'CDK8S_AGENTS_SKIP_FILE';

/** One skip, as the reporter reads it back. */
export interface SkipRecord {
  /** Absolute path of the test file. */
  readonly file: string;
  /** What was skipped (a describe title or a test's purpose). */
  readonly what: string;
  /** The binaries that were not found. */
  readonly missing: string[];
}

/** Warns that `what` is skipped because `missing` binaries are not installed, and records it for the run summary. */
export function noteSkip(what: string, missing: string | string[]): void {
  const list = Array.isArray(missing) ? missing : [missing];
  console.warn(`\n*** SKIPPED *** ${what}: binary not found on PATH: ${list.join(', ')}. Install it or set CDK8S_AGENTS_REQUIRE_SERVERS=1 to fail instead.\n`);
  const target = process.env[SKIP_FILE_ENV];
  if (!target) return;
  const record: SkipRecord = { file: expect.getState().testPath ?? '(unknown file)', what, missing: list };
  try {
    // One short O_APPEND write per skip: lines from parallel workers do not interleave.
    fs.appendFileSync(target, `${JSON.stringify(record)}\n`);
  } catch {
    /* the warning above is still there */
  }
}
