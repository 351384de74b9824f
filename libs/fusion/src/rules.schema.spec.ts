import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuleSet } from './rules.loader';
import { alertingClasses, parseRuleSet } from './rules.schema';

describe('rules', () => {
  it('loads a YAML rules file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'rules:',
        '  - id: night_person',
        '    when: person',
        '    severity: medium',
        '  - id: shot',
        '    when: [gunshot]',
        '    with: { class: person, withinSec: 3 }',
        '    severity: critical',
      ].join('\n'),
    );
    const rules = await loadRuleSet(file);
    expect(rules.rules.map((r) => r.id)).toEqual(['night_person', 'shot']);
    expect(rules.rules[1].with).toEqual({ class: 'person', withinSec: 3, minCount: 1 });
  });

  it.each([
    [{ version: 2, rules: [] }, /rules version: must be 1/],
    [
      { version: 1, rules: [{ id: 'x', when: 'explosion', severity: 'high' }] },
      /rules\[0\]\.when\[0\]: unknown class "explosion"/,
    ],
    [
      { version: 1, rules: [{ id: 'x', when: 'gunshot', severity: 'urgent' }] },
      /rules\[0\]\.severity/,
    ],
    [
      {
        version: 1,
        rules: [
          { id: 'x', when: 'gunshot', severity: 'low', with: { class: 'person', minCount: 0 } },
        ],
      },
      /with\.minCount/,
    ],
  ])('names the bad path', (raw, message) => {
    expect(() => parseRuleSet(raw)).toThrow(message);
  });

  it('reports an unreadable file clearly', async () => {
    await expect(loadRuleSet('/nonexistent/rules.yaml')).rejects.toThrow(
      'rules /nonexistent/rules.yaml: cannot be read (ENOENT)',
    );
  });

  it('lists the classes that alert on their own: medium or higher, no other modality needed', () => {
    const rules = parseRuleSet({
      version: 1,
      rules: [
        {
          id: 'intrusion',
          when: ['scream'],
          with: { class: 'person', withinSec: 5 },
          severity: 'high',
        },
        {
          id: 'unattended',
          when: ['alarm'],
          without: { class: 'person', withinSec: 5 },
          severity: 'high',
        },
        { id: 'shot', when: ['gunshot'], severity: 'critical' },
        { id: 'dog', when: ['dog_bark'], severity: 'low' },
      ],
    });
    expect([...alertingClasses(rules)].sort()).toEqual(['alarm', 'gunshot']);
  });
});
