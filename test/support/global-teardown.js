'use strict';
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

/** Stops the broker and the PostgreSQL global-setup started, if it started them. */
module.exports = async function globalTeardown() {
  const pgPort = process.env.VIGIL_TEST_PG_PORT;
  if (pgPort) {
    execFileSync(join(__dirname, '..', '..', 'scripts', 'postgres.sh'), ['stop'], {
      env: { ...process.env, PG_PORT: pgPort },
      stdio: 'inherit',
    });
  }
  const port = process.env.VIGIL_TEST_KAFKA_PORT;
  if (!port) return;
  execFileSync(join(__dirname, '..', '..', 'scripts', 'kafka.sh'), ['stop'], {
    env: { ...process.env, KAFKA_PORT: port },
    stdio: 'inherit',
  });
};
