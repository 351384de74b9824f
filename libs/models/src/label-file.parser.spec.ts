import { parseLabelFile } from './label-file.parser';

describe('parseLabelFile', () => {
  it('reads AudioSet display names by index, commas and quotes included', () => {
    const csv = [
      'index,mid,display_name',
      '1,/m/b,"Chink, clink"',
      '0,/m/a,"Speech"',
      '2,/m/c,"Say ""hi"""',
      '',
    ].join('\n');
    expect(parseLabelFile(csv, 'audioset-csv')).toEqual(['Speech', 'Chink, clink', 'Say "hi"']);
  });

  it('refuses a CSV with a gap, which would shift every later label', () => {
    const csv = 'index,mid,display_name\n0,/m/a,A\n2,/m/c,C\n';
    expect(() => parseLabelFile(csv, 'audioset-csv', 'x.csv')).toThrow(
      'x.csv: no label for index 1',
    );
  });

  it('refuses a CSV without the expected header', () => {
    expect(() => parseLabelFile('a,b\n0,x\n', 'audioset-csv', 'x.csv')).toThrow(/display_name/);
  });

  it('reads one label per line, ignoring blank lines and CRLF', () => {
    expect(parseLabelFile('person\r\nbicycle\n\ncar\n', 'lines')).toEqual([
      'person',
      'bicycle',
      'car',
    ]);
  });
});
