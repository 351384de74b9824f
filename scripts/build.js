#!/usr/bin/env node
/**
 * `npm run build`: every app bundled in ONE webpack compile with an entry per app, into the layout
 * `nest build <app>` makes (dist/apps/<app>/main.js, what bin/vigil.js, the tests, the Dockerfile
 * and k8s run). `nest build --all` compiled 19 times (the 5 apps, and each library on its own
 * although nothing loads dist/libs), parsing the same sources over and over.
 * The config is Nest's webpack defaults (webpack.config.js still serves `nest build <app>`):
 * node_modules stay external, ts-loader only transpiles (`npm run typecheck` checks types once).
 * Quiet: one line on success; errors and warnings in full.
 */
'use strict';
const { join } = require('node:path');
const { rmSync } = require('node:fs');
const webpack = require('webpack');
const nodeExternals = require('webpack-node-externals');
const { TsconfigPathsPlugin } = require('tsconfig-paths-webpack-plugin');

const ROOT = join(__dirname, '..');
const APPS = ['vigil', 'ingest', 'spectrogram', 'inference', 'fusion'];
const TSCONFIG = join(ROOT, 'tsconfig.build.json');
// Nest's lazily required optional packages: leave them out when they are not installed.
const LAZY_IMPORTS = new Set([
  '@nestjs/microservices',
  '@nestjs/microservices/microservices-module',
  '@nestjs/websockets/socket-module',
  'class-validator',
  'class-transformer',
  'class-transformer/storage',
]);

function missing(resource) {
  if (!LAZY_IMPORTS.has(resource)) return false;
  try {
    require.resolve(resource, { paths: [ROOT] });
    return false;
  } catch {
    return true;
  }
}

const config = {
  context: ROOT,
  entry: Object.fromEntries(APPS.map((app) => [app, `./apps/${app}/src/main.ts`])),
  target: 'node',
  mode: 'none',
  devtool: false,
  output: { path: join(ROOT, 'dist', 'apps'), filename: '[name]/main.js' },
  externals: [nodeExternals()],
  externalsPresets: { node: true },
  // Nest's defaults hide every warning but missing dependencies of dynamic requires.
  ignoreWarnings: [/^(?!CriticalDependenciesWarning$)/],
  module: {
    rules: [
      {
        test: /\.tsx?$/,
        exclude: /node_modules/,
        use: [{ loader: 'ts-loader', options: { transpileOnly: true, configFile: TSCONFIG } }],
      },
    ],
  },
  resolve: {
    extensions: ['.tsx', '.ts', '.js'],
    plugins: [new TsconfigPathsPlugin({ configFile: TSCONFIG, logLevel: 'ERROR' })],
  },
  optimization: { nodeEnv: false },
  node: { __filename: false, __dirname: false },
  plugins: [new webpack.IgnorePlugin({ checkResource: missing })],
  infrastructureLogging: { level: 'error' },
};

const started = Date.now();
// dist/libs was `nest build --all`'s output for the libraries, which nothing reads.
rmSync(join(ROOT, 'dist', 'libs'), { recursive: true, force: true });
webpack(config, (error, stats) => {
  if (error) {
    process.stderr.write(`build: ${error.stack ?? error.message}\n`);
    process.exitCode = 1;
    return;
  }
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  for (const warning of info.warnings ?? []) process.stderr.write(`warning: ${warning.message}\n`);
  for (const failure of info.errors ?? []) process.stderr.write(`error: ${failure.message}\n`);
  if (stats.hasErrors()) {
    process.exitCode = 1;
    return;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`built dist/apps/{${APPS.join(',')}}/main.js in ${seconds} s\n`);
});
