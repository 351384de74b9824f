import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import defaults from './default-rules.json';
import { type RuleSet, RuleSetError, parseRuleSet } from './rules.schema';

export function defaultRuleSet(): RuleSet {
  return parseRuleSet(defaults);
}

/** Reads a YAML or JSON rules file (JSON is YAML) and validates it. */
export async function loadRuleSet(path?: string): Promise<RuleSet> {
  if (!path) return defaultRuleSet();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new RuleSetError(
      path,
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`,
    );
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new RuleSetError(
      path,
      `is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  return parseRuleSet(raw);
}

/** Named rules files (a deployment's rules profiles), each loaded and validated. */
export async function loadRuleProfiles(
  files: Readonly<Record<string, string>>,
): Promise<Record<string, RuleSet>> {
  const loaded = await Promise.all(
    Object.entries(files).map(async ([name, file]) => [name, await loadRuleSet(file)] as const),
  );
  return Object.fromEntries(loaded);
}
