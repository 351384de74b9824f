/**
 * Nest's webpack defaults for `nest build <app>` (the Dockerfile builds one app so), minus the
 * per-app type checker. Types are checked once by `npm run typecheck` (part of `npm run lint`);
 * the bundles only transpile. `npm run build` bundles every app in one compile instead
 * (scripts/build.js, the same settings).
 */
module.exports = (options) => ({
  ...options,
  plugins: options.plugins.filter(
    (plugin) => plugin.constructor.name !== 'ForkTsCheckerWebpackPlugin',
  ),
});
