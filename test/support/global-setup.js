'use strict';
/**
 * Before the tests: a throw-away PostgreSQL (unless VIGIL_TEST_DATABASE_URL names one) for the
 * history suites that run on both backends, and, for the end-to-end tests, a real Kafka broker
 * (unless KAFKA_BROKERS names one that answers) and service bundles no older than the sources
 * they are built from. `npm test` thus needs nothing started by hand; teardown stops only what
 * setup started.
 */
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { Socket } = require('node:net');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const APPS = ['ingest', 'spectrogram', 'inference', 'fusion', 'vigil'];

function answers(host, port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.connect(port, host);
  });
}

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (
      /\.(ts|tsx|css|html|json|proto)$/.test(entry.name) &&
      !entry.name.endsWith('.spec.ts')
    ) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** `--selectProjects a b`: jest leaves it out of globalConfig, so read it from the command line. */
function selectedProjects(argv) {
  const at = argv.findIndex((a) => a === '--selectProjects' || a.startsWith('--selectProjects='));
  if (at < 0) return [];
  if (argv[at].includes('=')) return argv[at].split('=')[1].split(',');
  const names = [];
  for (const arg of argv.slice(at + 1)) {
    if (arg.startsWith('-')) break;
    names.push(arg);
  }
  return names;
}

/**
 * scripts/postgres.sh start, once per run. Without Debian's postgresql the PostgreSQL half of
 * the history suites is skipped on a developer's machine, and fails in CI.
 */
function startPostgres() {
  if (process.env.VIGIL_TEST_DATABASE_URL) return;
  let out;
  try {
    out = execFileSync(join(ROOT, 'scripts', 'postgres.sh'), ['start'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const why = `${error.stderr || error.message}`.trim();
    if (process.env.CI === 'true' || process.env.VIGIL_REQUIRE_POSTGRES === '1') {
      throw new Error(`scripts/postgres.sh start failed: ${why}`);
    }
    process.stdout.write(`\n[setup] no PostgreSQL (${why}): history suites run on SQLite only\n`);
    return;
  }
  const url = /VIGIL_DATABASE_URL=(\S+)/.exec(out);
  const port = /PG_PORT=(\d+)/.exec(out);
  if (!url || !port) throw new Error(`scripts/postgres.sh start printed no URL:\n${out}`);
  process.env.VIGIL_TEST_DATABASE_URL = url[1];
  process.env.VIGIL_TEST_PG_PORT = port[1];
  process.stdout.write(`\n[setup] PostgreSQL on 127.0.0.1:${port[1]} (scripts/postgres.sh)\n`);
}

module.exports = async function globalSetup(globalConfig) {
  startPostgres();
  const selected = globalConfig.selectProjects ?? selectedProjects(process.argv);
  if (selected.length > 0 && !selected.includes('e2e')) return;
  const sources = Math.max(...['apps', 'libs'].map((d) => newestSource(join(ROOT, d))));
  const bundles = [
    ...APPS.map((app) => join(ROOT, 'dist', 'apps', app, 'main.js')),
    join(ROOT, 'dist', 'console', 'app.js'),
  ];
  const stale = bundles.some((bundle) => !existsSync(bundle) || statSync(bundle).mtimeMs < sources);
  if (stale) {
    process.stdout.write(
      '\n[setup] building the service bundles (dist/ is missing or older than the sources)\n',
    );
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }

  // Every `vigil serve` a test starts picks a free port for /metrics, so suites can run side by side.
  process.env.VIGIL_METRICS_ADDRESS ??= '127.0.0.1:0';
  // …and for the web console, which `vigil serve` would otherwise open on 8080.
  process.env.VIGIL_HTTP_ADDRESS ??= '127.0.0.1:0';

  const configured = process.env.KAFKA_BROKERS;
  const [host, port] = (configured ?? '127.0.0.1:9092').split(',')[0].split(':');
  if (await answers(host, Number(port))) {
    process.env.KAFKA_BROKERS = configured ?? `${host}:${port}`;
    return;
  }
  if (configured) throw new Error(`KAFKA_BROKERS=${configured} does not answer`);
  // A broker of our own on a port of its own, so a developer's broker on 9092 is never touched.
  const kafkaPort = String(19092 + Math.floor(Math.random() * 800) * 2);
  process.stdout.write(
    `[setup] starting a Kafka broker on 127.0.0.1:${kafkaPort} (scripts/kafka.sh)\n`,
  );
  const out = execFileSync(join(ROOT, 'scripts', 'kafka.sh'), ['start'], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_PORT: kafkaPort },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const match = /KAFKA_BROKERS=(\S+)/.exec(out);
  if (!match) throw new Error(`scripts/kafka.sh start printed no KAFKA_BROKERS:\n${out}`);
  process.env.KAFKA_BROKERS = match[1];
  process.env.VIGIL_TEST_KAFKA_PORT = kafkaPort;
};
