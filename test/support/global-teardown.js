'use strict';
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

/** Stops the broker global-setup started, if it started one. */
module.exports = async function globalTeardown() {
  const port = process.env.VIGIL_TEST_KAFKA_PORT;
  if (!port) return;
  execFileSync(join(__dirname, '..', '..', 'scripts', 'kafka.sh'), ['stop'], {
    env: { ...process.env, KAFKA_PORT: port },
    stdio: 'inherit',
  });
};
