'use strict';
/**
 * Builds the web console (apps/console) into dist/console: one script bundle (Preact and the
 * app, transpiled by ts-loader; types are checked by `npm run typecheck`), the stylesheet and
 * index.html. Everything the page loads comes from there: nothing from a CDN.
 */
const { copyFileSync, mkdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');
const webpack = require('webpack');

const ROOT = join(__dirname, '..');
const SRC = join(ROOT, 'apps', 'console', 'src');
const OUT = join(ROOT, 'dist', 'console');

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

webpack(
  {
    mode: 'production',
    target: ['web', 'es2020'],
    context: ROOT,
    entry: join(SRC, 'main.tsx'),
    devtool: 'source-map',
    output: { path: OUT, filename: 'app.js' },
    resolve: { extensions: ['.tsx', '.ts', '.js', '.mjs'] },
    module: {
      rules: [
        {
          test: /\.tsx?$/,
          loader: 'ts-loader',
          options: {
            transpileOnly: true,
            configFile: join(ROOT, 'apps', 'console', 'tsconfig.json'),
          },
        },
      ],
    },
    performance: { hints: false },
  },
  (error, stats) => {
    if (error || stats.hasErrors()) {
      process.stderr.write(`${error ? error.message : stats.toString('errors-only')}\n`);
      process.exit(1);
    }
    for (const file of ['index.html', 'app.css']) copyFileSync(join(SRC, file), join(OUT, file));
    const size = stats.toJson({ assets: true }).assets.find((a) => a.name === 'app.js').size;
    process.stdout.write(`console: dist/console (app.js ${Math.round(size / 1024)} KiB)\n`);
  },
);
