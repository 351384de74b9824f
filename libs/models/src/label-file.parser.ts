import type { LabelFormat } from './model.manifest';

/** Splits one CSV record; AudioSet display names carry commas inside quotes ("Chink, clink"). */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  fields.push(field);
  return fields;
}

function parseAudioSetCsv(text: string, source: string): string[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim().length > 0);
  const header = splitCsvLine(lines.shift() ?? '').map((h) => h.trim());
  const indexCol = header.indexOf('index');
  const nameCol = header.indexOf('display_name');
  if (indexCol < 0 || nameCol < 0) {
    throw new Error(`${source}: expected a header with "index" and "display_name" columns`);
  }
  const labels: string[] = [];
  lines.forEach((line, row) => {
    const fields = splitCsvLine(line);
    const index = Number(fields[indexCol]);
    const name = fields[nameCol];
    if (!Number.isInteger(index) || index < 0 || name === undefined) {
      throw new Error(`${source}: malformed row ${row + 2}: ${line}`);
    }
    labels[index] = name;
  });
  // The model's output k is the label of index k, so a gap would shift every later label.
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === undefined) throw new Error(`${source}: no label for index ${i}`);
  }
  return labels;
}

/** Model labels in output order. */
export function parseLabelFile(text: string, format: LabelFormat, source = 'labels'): string[] {
  if (format === 'audioset-csv') return parseAudioSetCsv(text, source);
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}
