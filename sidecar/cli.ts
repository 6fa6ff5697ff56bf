#!/usr/bin/env node
/**
 * `agent-sidecar`: starts the sidecar with settings from flags and environment variables.
 * SIGTERM/SIGINT start a graceful shutdown; a second signal exits at once. So does the parent
 * process exiting (--exit-with-parent): wrappers such as `npx` or `sh -c` do not forward
 * SIGTERM, and without this the sidecar would be left running as an orphan.
 */
import { ConfigError, helpText, parseConfig } from './config';
import { SIDECAR_VERSION } from './contract';
import { Sidecar } from './server';

const startPpid = process.ppid;

/**
 * Calls `onGone` once when the parent process exits (Linux reparents the orphan, so
 * process.ppid changes). Not armed when started by PID 1 (or as PID 1, ppid 0): in a container
 * node is the entrypoint and its "parent" is the runtime, and a child of init has no wrapper to
 * lose. The timer is unref'd: it never keeps the process alive by itself.
 */
function watchParent(onGone: () => void, intervalMs = 500): void {
  if (startPpid <= 1) return;
  const timer = setInterval(() => {
    if (process.ppid === startPpid) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${SIDECAR_VERSION}\n`);
    return;
  }
  let config;
  try {
    config = parseConfig(argv, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`agent-sidecar: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const sidecar = new Sidecar({ config });
  const log = sidecar.log;

  let signals = 0;
  // `reason` is the signal's name, or 'parent exited'.
  const onSignal = (reason: string) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal: reason }, 'second signal: exiting now');
      process.exit(1);
    }
    sidecar
      .shutdown(reason)
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (config.exitWithParent) watchParent(() => {
    log.warn({ parentPid: startPpid }, 'parent process exited: shutting down');
    onSignal('parent exited');
  });
  // A bug in a handler must not take the pod's metrics down with it: log and keep serving.
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

  try {
    await sidecar.start();
  } catch (err) {
    log.fatal({ err }, 'cannot start listeners');
    process.exit(1);
  }
}

void main(process.argv.slice(2));
