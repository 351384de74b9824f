/**
 * Nest's webpack defaults, minus the per-app type checker: `nest build --all` would type-check
 * the whole repository once per app. Types are checked once by `npm run typecheck` (part of
 * `npm run lint`); the bundles only transpile.
 */
module.exports = (options) => ({
  ...options,
  plugins: options.plugins.filter(
    (plugin) => plugin.constructor.name !== 'ForkTsCheckerWebpackPlugin',
  ),
});
