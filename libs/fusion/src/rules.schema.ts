import {
  type CanonicalClass,
  type Severity,
  AUDIO_CLASSES,
  SEVERITIES,
  VIDEO_CLASSES,
  severityRank,
} from '@app/contracts';

/** Another modality's class that must (with) or must not (without) be seen near the trigger. */
export interface Condition {
  class: CanonicalClass;
  /** Seconds either side of the trigger. */
  withinSec: number;
  /** Detections (frames or windows) needed to count as seen; guards against one-frame blips. */
  minCount: number;
}

/**
 * Where a rule looks: one camera (the default), every camera of the camera's site, or of its
 * zone. A scoped rule is either "heard by at least `minCameras` cameras within `withinSec`" or
 * "`with` a class seen on another camera of the scope"; it fires once for the scope, naming
 * the cameras, and only for cameras that belong to a site.
 */
export type RuleScope = 'stream' | 'site' | 'zone';

export interface Rule {
  id: string;
  scope: RuleScope;
  /** Scoped rules: distinct cameras of the scope that must detect the trigger class. */
  minCameras?: number;
  /** Scoped rules with minCameras: how long after the first camera the others may hear it. */
  withinSec?: number;
  /** `{trigger}` is replaced by the class that fired. */
  title: string;
  when: CanonicalClass[];
  with?: Condition;
  without?: Condition;
  severity: Severity;
  /**
   * An incident whose current rule this is closes once its classes were not detected for this
   * long. (Rule files from before incidents had a lifecycle call it `cooldownSec`.)
   */
  quietSec: number;
}

export interface RuleSet {
  version: 1;
  /** Detections of one class closer than this belong to the same episode (one trigger). */
  episodeGapSec: number;
  /** In priority order: for each episode, the first rule whose conditions hold fires. */
  rules: Rule[];
}

const CLASSES: readonly string[] = [...AUDIO_CLASSES, ...VIDEO_CLASSES];

export class RuleSetError extends Error {
  constructor(path: string, problem: string) {
    super(`rules ${path}: ${problem}`);
    this.name = 'RuleSetError';
  }
}

/** Validates parsed YAML/JSON into a RuleSet; every error names the offending path. */
export function parseRuleSet(raw: unknown): RuleSet {
  const root = object(raw, '$');
  if (root.version !== 1)
    throw new RuleSetError('version', `must be 1, got ${String(root.version)}`);
  const rules = root.rules;
  if (!Array.isArray(rules) || rules.length === 0) {
    throw new RuleSetError('rules', 'must be a non-empty list');
  }
  const seen = new Set<string>();
  const parsed = rules.map((entry, index) => {
    const rule = parseRule(entry, `rules[${index}]`);
    if (seen.has(rule.id))
      throw new RuleSetError(`rules[${index}].id`, `duplicate id "${rule.id}"`);
    seen.add(rule.id);
    return rule;
  });
  return {
    version: 1,
    episodeGapSec: positive(root.episodeGapSec ?? 1.5, 'episodeGapSec'),
    rules: parsed,
  };
}

function parseRule(raw: unknown, path: string): Rule {
  const rule = object(raw, path);
  if (typeof rule.id !== 'string' || !/^[a-z0-9_.-]+$/.test(rule.id)) {
    throw new RuleSetError(`${path}.id`, 'must be lower-case letters, digits, _ . or -');
  }
  const when = Array.isArray(rule.when) ? rule.when : [rule.when];
  if (when.length === 0) throw new RuleSetError(`${path}.when`, 'must name at least one class');
  if (rule.with !== undefined && rule.without !== undefined) {
    throw new RuleSetError(path, 'use either "with" or "without", not both');
  }
  if (
    typeof rule.severity !== 'string' ||
    !(SEVERITIES as readonly string[]).includes(rule.severity)
  ) {
    throw new RuleSetError(`${path}.severity`, `must be one of ${SEVERITIES.join(', ')}`);
  }
  const scope = rule.scope ?? 'stream';
  if (scope !== 'stream' && scope !== 'site' && scope !== 'zone') {
    throw new RuleSetError(`${path}.scope`, 'must be stream, site or zone');
  }
  return {
    id: rule.id,
    scope,
    ...scoped(rule, scope, path),
    title: typeof rule.title === 'string' ? rule.title : rule.id,
    when: when.map((c, i) => canonicalClass(c, `${path}.when[${i}]`)),
    with: rule.with === undefined ? undefined : parseCondition(rule.with, `${path}.with`),
    without:
      rule.without === undefined ? undefined : parseCondition(rule.without, `${path}.without`),
    severity: rule.severity as Severity,
    quietSec: quietSec(rule, path),
  };
}

function scoped(
  rule: Record<string, unknown>,
  scope: RuleScope,
  path: string,
): Pick<Rule, 'minCameras' | 'withinSec'> {
  if (scope === 'stream') {
    for (const key of ['minCameras', 'withinSec']) {
      if (rule[key] !== undefined) {
        throw new RuleSetError(`${path}.${key}`, 'only site and zone rules span cameras');
      }
    }
    return {};
  }
  if (rule.without !== undefined) {
    throw new RuleSetError(`${path}.without`, `a ${scope} rule cannot say "without"`);
  }
  if (rule.with !== undefined) {
    if (rule.minCameras !== undefined || rule.withinSec !== undefined) {
      throw new RuleSetError(path, `a ${scope} rule has either "with" or minCameras/withinSec`);
    }
    return {};
  }
  const minCameras = rule.minCameras;
  if (!Number.isInteger(minCameras) || (minCameras as number) < 2) {
    throw new RuleSetError(
      `${path}.minCameras`,
      `an integer ≥ 2 is required (or "with": a class on another camera)`,
    );
  }
  return {
    minCameras: minCameras as number,
    withinSec: positive(rule.withinSec ?? 1, `${path}.withinSec`),
  };
}

function quietSec(rule: Record<string, unknown>, path: string): number {
  if (rule.quietSec !== undefined && rule.cooldownSec !== undefined) {
    throw new RuleSetError(path, 'use "quietSec"; "cooldownSec" is its old name, not both');
  }
  if (rule.cooldownSec !== undefined) return nonNegative(rule.cooldownSec, `${path}.cooldownSec`);
  return nonNegative(rule.quietSec ?? 30, `${path}.quietSec`);
}

function parseCondition(raw: unknown, path: string): Condition {
  const condition = object(raw, path);
  const minCount = condition.minCount ?? 1;
  if (!Number.isInteger(minCount) || (minCount as number) < 1) {
    throw new RuleSetError(`${path}.minCount`, 'must be an integer ≥ 1');
  }
  return {
    class: canonicalClass(condition.class, `${path}.class`),
    withinSec: positive(condition.withinSec ?? 5, `${path}.withinSec`),
    minCount: minCount as number,
  };
}

function canonicalClass(value: unknown, path: string): CanonicalClass {
  if (typeof value !== 'string' || !CLASSES.includes(value)) {
    throw new RuleSetError(path, `unknown class "${String(value)}"; known: ${CLASSES.join(', ')}`);
  }
  return value as CanonicalClass;
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RuleSetError(path, 'must be an object');
  }
  return value as Record<string, unknown>;
}

function positive(value: unknown, path: string): number {
  if (typeof value !== 'number' || !(value > 0))
    throw new RuleSetError(path, 'must be a number > 0');
  return value;
}

function nonNegative(value: unknown, path: string): number {
  if (typeof value !== 'number' || !(value >= 0))
    throw new RuleSetError(path, 'must be a number ≥ 0');
  return value;
}

/**
 * Classes that raise an alert (an incident of medium or higher severity) on their own, with no
 * other modality's help: what an item labelled with one of them must produce.
 */
export function alertingClasses(ruleSet: RuleSet): Set<CanonicalClass> {
  return new Set(
    ruleSet.rules
      .filter((rule) => rule.scope === 'stream')
      .filter((rule) => !rule.with && severityRank(rule.severity) >= severityRank('medium'))
      .flatMap((rule) => rule.when),
  );
}
