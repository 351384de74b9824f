#!/usr/bin/env node
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'apps', 'vigil', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('vigil: not built yet; run `npm run build` in the repository first\n');
  process.exit(2);
}
require(entry);
