/** A configuration value is missing or wrong. The message names the key, so the fix is obvious. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`configuration ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}
