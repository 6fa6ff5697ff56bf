/** What the sidecar benchmarks share: the sidecar's node flags, free ports, process CPU time, waiting for a server. */
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

/** The compiled sidecar (npm run build). */
const CLI = path.join(__dirname, '..', 'lib', 'sidecar', 'cli.js');

/** The node flags sidecar/Dockerfile runs the sidecar with (CMD and NODE_OPTIONS): measure what ships. */
const SIDECAR_NODE_FLAGS = (process.env.BENCH_SIDECAR_NODE_FLAGS ?? '--max-semi-space-size=2 --no-memory-reducer --max-old-space-size=192').split(' ').filter(Boolean);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux

/** CPU seconds (user + system) the process has used: /proc/<pid>/stat fields 14 and 15. Throws if it is gone. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Resolves once `url` answers 2xx; throws after `ms`. */
async function waitHttp(url, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { CLI, SIDECAR_NODE_FLAGS, freePort, cpuSeconds, waitHttp };
