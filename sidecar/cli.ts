#!/usr/bin/env node
/**
 * `agent-sidecar`: starts the sidecar with settings from flags and environment variables.
 * SIGTERM/SIGINT start a graceful shutdown; a second signal exits at once.
 */
import { ConfigError, helpText, parseConfig } from './config';
import { SIDECAR_VERSION } from './contract';
import { Sidecar } from './server';

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
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    sidecar
      .shutdown(signal)
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
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
