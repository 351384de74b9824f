import { ConfigError } from './config.error';

type Plain = Record<string, unknown>;

/**
 * Reads one object of a config file (YAML or JSON) by key, failing with the dotted path of the
 * key at fault (`grpc.tls.certFile: must be a string`). Unknown keys are errors too: a typo
 * must not silently leave a default in place.
 */
export class ConfigReader {
  private readonly value: Plain;
  private readonly seen = new Set<string>();

  constructor(
    value: unknown,
    private readonly path: string,
  ) {
    if (value === undefined || value === null) this.value = {};
    else if (typeof value === 'object' && !Array.isArray(value)) this.value = value as Plain;
    else throw new ConfigError(path || '(file)', 'must be a mapping of keys to values');
  }

  key(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  raw(name: string): unknown {
    this.seen.add(name);
    return this.value[name];
  }

  object(name: string): ConfigReader {
    return new ConfigReader(this.raw(name), this.key(name));
  }

  string(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '') {
      throw new ConfigError(this.key(name), 'must be a non-empty string');
    }
    return value;
  }

  number(name: string, min: number, max: number): number | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !(value >= min && value <= max)) {
      throw new ConfigError(this.key(name), `must be a number between ${min} and ${max}`);
    }
    return value;
  }

  integer(name: string, min: number, max: number): number | undefined {
    const value = this.number(name, min, max);
    if (value !== undefined && !Number.isInteger(value)) {
      throw new ConfigError(this.key(name), 'must be a whole number');
    }
    return value;
  }

  boolean(name: string): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw new ConfigError(this.key(name), 'must be true or false');
    return value;
  }

  list(name: string): unknown[] {
    const value = this.raw(name);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new ConfigError(this.key(name), 'must be a list');
    return value;
  }

  /** Fails on the first key nobody asked for. */
  done(): void {
    for (const name of Object.keys(this.value)) {
      if (!this.seen.has(name)) throw new ConfigError(this.key(name), 'is not a known setting');
    }
  }
}
