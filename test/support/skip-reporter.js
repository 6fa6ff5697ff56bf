/**
 * Jest reporter: at the end of every run that skipped a server-backed test (a binary such as
 * prometheus or redis-server not on PATH), prints which ones, after jest's own summary, so a
 * partly skipped run cannot pass for a full one. The skips are written by test/support/skips.ts
 * into the file this reporter names in CDK8S_AGENTS_SKIP_FILE (workers inherit the variable).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SKIP_FILE_ENV = 'CDK8S_AGENTS_SKIP_FILE';

class SkipReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.watch = Boolean(globalConfig.watch || globalConfig.watchAll);
    this.file = path.join(os.tmpdir(), `cdk8s-agents-skips-${process.pid}-${Date.now()}.jsonl`);
    fs.rmSync(this.file, { force: true });
    process.env[SKIP_FILE_ENV] = this.file;
  }

  onRunComplete() {
    const text = this.summary();
    if (!text) return;
    // Jest prints its own summary (SummaryReporter) after every custom reporter: print at exit so
    // this comes last, or now in watch mode, where the process stays. Writes to a pipe, file or
    // terminal are synchronous on Linux, so nothing is lost at exit.
    if (this.watch) process.stderr.write(text);
    else process.once('exit', () => process.stderr.write(text));
  }

  /** The summary text of this run's skips ('' for none); removes the file for the next run. */
  summary() {
    let text = '';
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return ''; // nothing skipped
    } finally {
      fs.rmSync(this.file, { force: true });
    }
    const lines = new Set();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let r;
      try {
        r = JSON.parse(line);
      } catch {
        continue;
      }
      const file = path.isAbsolute(r.file) ? path.relative(this.rootDir, r.file) : r.file;
      lines.add(`  ${file}: ${r.what} (missing: ${r.missing.join(', ')})`);
    }
    if (lines.size === 0) return '';
    return (
      `\n*** SKIPPED server-backed tests: ${lines.size} (binary not on PATH) ***\n${[...lines].sort().join('\n')}\n` +
      'Install the binaries or set CDK8S_AGENTS_REQUIRE_SERVERS=1 to make these fail instead.\n\n'
    );
  }
}

module.exports = SkipReporter;
