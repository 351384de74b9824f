import { tokenizeProto } from './proto-source.tokenizer';

// The attribution rules are descriptor.proto's own example (SourceCodeInfo.Location); the
// expected strings are what buf/protoc record for it.
const EXAMPLE = [
  'message M {',
  '  int32 foo = 1;  // Comment attached to foo.',
  '  // Comment attached to bar.',
  '  int32 bar = 2;',
  '',
  '  string baz = 3;',
  '  // Comment attached to baz.',
  '  // Another line attached to baz.',
  '',
  '  // Comment attached to moo.',
  '  //',
  '  // Another line attached to moo.',
  '  double moo = 4;',
  '',
  '  // Detached comment for corge. This is not leading or trailing comments',
  '  // to moo or corge because there are blank lines separating it from',
  '  // both.',
  '',
  '  // Detached comment for corge paragraph 2.',
  '',
  '  string corge = 5;',
  '  /* Block comment attached',
  '   * to corge.  Leading asterisks',
  '   * will be removed. */',
  '  /* Block comment attached to',
  '   * grault. */',
  '  int32 grault = 6;',
  "  // Last words: the scope ends, so they are grault's.",
  '}',
].join('\n');

describe('tokenizeProto', () => {
  it('attributes comments as protoc does', () => {
    const tokens = tokenizeProto(EXAMPLE);
    // A field `type name = n;`: its first token holds what precedes it, its `;` what follows.
    const typeOf = (name: string) => tokens[tokens.findIndex((t) => t.text === name) - 1]!;
    const semicolonAfter = (name: string) => tokens[tokens.findIndex((t) => t.text === name) + 3]!;
    expect(typeOf('foo').leading).toBeUndefined();
    expect(semicolonAfter('foo').trailing).toBe(' Comment attached to foo.\n');
    expect(typeOf('bar').leading).toBe(' Comment attached to bar.\n');
    expect(semicolonAfter('bar').trailing).toBeUndefined();
    expect(semicolonAfter('baz').trailing).toBe(
      ' Comment attached to baz.\n Another line attached to baz.\n',
    );
    expect(typeOf('moo').leading).toBe(
      ' Comment attached to moo.\n\n Another line attached to moo.\n',
    );
    const corge = typeOf('corge');
    expect(corge.leading).toBeUndefined();
    expect(corge.detached).toEqual([
      ' Detached comment for corge. This is not leading or trailing comments\n' +
        ' to moo or corge because there are blank lines separating it from\n both.\n',
      ' Detached comment for corge paragraph 2.\n',
    ]);
    expect(semicolonAfter('corge').trailing).toBe(
      ' Block comment attached\n to corge.  Leading asterisks\n will be removed. ',
    );
    const grault = typeOf('grault');
    expect(grault.leading).toBe(' Block comment attached to\n grault. ');
    expect(semicolonAfter('grault').trailing).toBe(
      " Last words: the scope ends, so they are grault's.\n",
    );
  });

  it('gives a comment between two declarations on one line to neither', () => {
    const source = 'message M {\n  int32 a = 1; /* between */ int32 b = 2;\n}\n';
    const tokens = tokenizeProto(source);
    const b = tokens[tokens.findIndex((t) => t.text === 'b') - 1]!;
    expect(b.leading).toBeUndefined();
    expect(b.detached).toEqual([' between ']);
    expect(tokens.every((t) => t.trailing === undefined)).toBe(true);
  });

  it('records zero-based positions, tabs advancing to the next multiple of 8', () => {
    const [message, name, open, field] = tokenizeProto('message M {\n\tint32 x = 1;\n}');
    expect([message!.line, message!.column, message!.endColumn]).toEqual([0, 0, 7]);
    expect([name!.line, name!.column]).toEqual([0, 8]);
    expect(open!.text).toBe('{');
    expect([field!.text, field!.line, field!.column, field!.endColumn]).toEqual([
      'int32',
      1,
      8,
      13,
    ]);
  });

  it('reads numbers, strings and symbols as single tokens', () => {
    const tokens = tokenizeProto('x = -0x1F; y = "a \\"b\\"" \'c\'; z = 1.5e3; w = .5;');
    expect(tokens.map((t) => [t.kind, t.text])).toEqual([
      ['identifier', 'x'],
      ['symbol', '='],
      ['symbol', '-'],
      ['integer', '0x1F'],
      ['symbol', ';'],
      ['identifier', 'y'],
      ['symbol', '='],
      ['string', '"a \\"b\\""'],
      ['string', "'c'"],
      ['symbol', ';'],
      ['identifier', 'z'],
      ['symbol', '='],
      ['float', '1.5e3'],
      ['symbol', ';'],
      ['identifier', 'w'],
      ['symbol', '='],
      ['float', '.5'],
      ['symbol', ';'],
    ]);
  });

  it('names the file, line and column of what it cannot read', () => {
    expect(() => tokenizeProto('a = "open\n";', 'x.proto')).toThrow(
      'x.proto:1:10: string not terminated on its line',
    );
    expect(() => tokenizeProto('/* never closed', 'x.proto')).toThrow(
      'x.proto:1:1: comment not closed',
    );
  });
});
