/**
 * The tokens of a .proto file with their positions and comments, attributed the way protoc's
 * tokenizer does (Tokenizer::NextWithComments): reflection clients such as grpcurl print the
 * comments from source info, so a comment belongs to the declaration protoc would give it to.
 */

export type ProtoTokenKind = 'identifier' | 'integer' | 'float' | 'string' | 'symbol';

export interface ProtoToken {
  kind: ProtoTokenKind;
  /** As written; a string token's quotes included. */
  text: string;
  /** Zero-based, as in SourceCodeInfo spans; a tab advances the column to a multiple of 8. */
  line: number;
  column: number;
  /** Just past the token. */
  endColumn: number;
  /** The comment block right above the token, no blank line between. */
  leading?: string;
  /** Blocks separated from the token (or from the previous one) by blank lines. */
  detached: string[];
  /** The comment that follows the token on its line, or on the next lines up to a blank one. */
  trailing?: string;
}

export class ProtoSyntaxError extends Error {
  constructor(file: string, line: number, column: number, problem: string) {
    super(`${file}:${line + 1}:${column + 1}: ${problem}`);
  }
}

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER =
  /(?:0[xX][0-9A-Fa-f]+|[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|[0-9]+)/y;

export function tokenizeProto(source: string, file = '<proto>'): ProtoToken[] {
  return new Tokenizer(source, file).run();
}

/** protoc's CommentCollector: where each comment block goes once its fate is known. */
class CommentCollector {
  trailing = '';
  readonly detached: string[] = [];
  private buffer = '';
  private hasComment = false;
  private isLineComment = false;
  private canAttachToPrevious: boolean;
  private hasTrailing = false;
  private count = 0;

  constructor(hasPrevious: boolean) {
    this.canAttachToPrevious = hasPrevious;
  }

  lineComment(text: string): void {
    // Consecutive line comments form one block; a block comment ends it.
    if (this.hasComment && !this.isLineComment) this.flush();
    this.hasComment = true;
    this.isLineComment = true;
    this.buffer += text;
  }

  blockComment(text: string): void {
    if (this.hasComment) this.flush();
    this.hasComment = true;
    this.isLineComment = false;
    this.buffer += text;
  }

  private clear(): void {
    this.buffer = '';
    this.hasComment = false;
  }

  /** The block is complete and not the next token's. */
  flush(): void {
    if (!this.hasComment) return;
    if (this.canAttachToPrevious) {
      this.trailing += this.buffer;
      this.hasTrailing = true;
      this.canAttachToPrevious = false;
    } else {
      this.detached.push(this.buffer);
    }
    this.clear();
    this.count++;
  }

  detachFromPrevious(): void {
    this.canAttachToPrevious = false;
  }

  /** A lone comment between two tokens on one line belongs to neither. */
  maybeDetach(): void {
    if (this.count + (this.hasComment ? 1 : 0) !== 1) return;
    if (this.hasTrailing) {
      this.detached.unshift(this.trailing);
      this.trailing = '';
    }
    this.canAttachToPrevious = false;
    this.flush();
  }

  leading(): string | undefined {
    return this.hasComment ? this.buffer : undefined;
  }
}

class Tokenizer {
  private pos = 0;
  private line = 0;
  private column = 0;
  private readonly tokens: ProtoToken[] = [];

  constructor(
    private readonly source: string,
    private readonly file: string,
  ) {}

  run(): ProtoToken[] {
    if (this.source.charCodeAt(0) === 0xfeff) this.pos = 1;
    while (this.next());
    return this.tokens;
  }

  /** Reads the comments after the previous token and the token after them; false at the end. */
  private next(): boolean {
    const previous = this.tokens.at(-1);
    const collector = new CommentCollector(previous !== undefined);
    const previousLine = this.line;
    let trailingEndLine = -1;
    if (previous) {
      this.skipBlanks();
      if (this.startsWith('//')) {
        trailingEndLine = this.line;
        collector.lineComment(this.lineComment());
        // Comments on the lines below may not join a trailing comment.
        collector.flush();
      } else if (this.startsWith('/*')) {
        collector.blockComment(this.blockComment());
        trailingEndLine = this.line;
        this.skipBlanks();
        if (!this.consume('\n')) {
          // The next token is on the same line: the comment is neither token's own (protoc
          // drops it; buf, whose output we check against, keeps it detached).
          collector.detachFromPrevious();
          collector.flush();
          return this.emit(collector);
        }
        collector.flush();
      } else if (!this.consume('\n')) {
        return this.emit(collector);
      }
    }
    for (;;) {
      this.skipBlanks();
      if (this.startsWith('//')) {
        collector.lineComment(this.lineComment());
      } else if (this.startsWith('/*')) {
        collector.blockComment(this.blockComment());
        this.skipBlanks();
        this.consume('\n');
      } else if (this.consume('\n')) {
        collector.flush();
        collector.detachFromPrevious();
      } else {
        const next = this.source[this.pos];
        if (next === undefined || next === '}' || next === ']' || next === ')') {
          // At the end of a scope a comment describes what came before it.
          collector.flush();
        }
        if (next !== undefined && (this.line === previousLine || this.line === trailingEndLine)) {
          collector.maybeDetach();
        }
        return this.emit(collector);
      }
    }
  }

  private emit(collector: CommentCollector): boolean {
    const previous = this.tokens.at(-1);
    if (previous && collector.trailing !== '') previous.trailing = collector.trailing;
    const token = this.readToken();
    if (!token) return false;
    token.leading = collector.leading();
    token.detached = collector.detached;
    this.tokens.push(token);
    return true;
  }

  private readToken(): ProtoToken | undefined {
    if (this.pos >= this.source.length) return undefined;
    const line = this.line;
    const column = this.column;
    const start = this.pos;
    const char = this.source[this.pos]!;
    let kind: ProtoTokenKind;
    if (/[A-Za-z_]/.test(char)) {
      kind = 'identifier';
      this.advance(this.match(IDENTIFIER)!.length);
    } else if (
      /[0-9]/.test(char) ||
      (char === '.' && /[0-9]/.test(this.source[this.pos + 1] ?? ''))
    ) {
      const text = this.match(NUMBER)!;
      kind = /^0[xX]/.test(text) || /^[0-9]+$/.test(text) ? 'integer' : 'float';
      this.advance(text.length);
      if (/[A-Za-z0-9_]/.test(this.source[this.pos] ?? '')) this.fail('a number must end here');
    } else if (char === '"' || char === "'") {
      kind = 'string';
      this.advance(1);
      while (this.source[this.pos] !== char) {
        const c = this.source[this.pos];
        if (c === undefined || c === '\n') this.fail('string not terminated on its line');
        this.advance(c === '\\' ? 2 : 1);
      }
      this.advance(1);
    } else {
      kind = 'symbol';
      this.advance(1);
    }
    return {
      kind,
      text: this.source.slice(start, this.pos),
      line,
      column,
      endColumn: this.column,
      detached: [],
    };
  }

  /** `// text\n` → ` text\n`, as protoc records it. */
  private lineComment(): string {
    this.advance(2);
    const start = this.pos;
    const end = this.source.indexOf('\n', start);
    const stop = end < 0 ? this.source.length : end + 1;
    this.advance(stop - start);
    return this.source.slice(start, stop);
  }

  /** The text between the delimiters, without each line's leading whitespace and `*`. */
  private blockComment(): string {
    const line = this.line;
    const column = this.column;
    this.advance(2);
    let text = '';
    for (;;) {
      const c = this.source[this.pos];
      if (c === undefined)
        throw new ProtoSyntaxError(this.file, line, column, 'comment not closed');
      if (c === '\n') {
        text += c;
        this.advance(1);
        this.skipBlanks();
        if (this.source[this.pos] === '*') {
          this.advance(1);
          if (this.consume('/')) return text;
        }
      } else if (this.startsWith('*/')) {
        this.advance(2);
        return text;
      } else {
        text += c;
        this.advance(1);
      }
    }
  }

  private skipBlanks(): void {
    while (/[ \t\r\f\v]/.test(this.source[this.pos] ?? '')) this.advance(1);
  }

  private startsWith(text: string): boolean {
    return this.source.startsWith(text, this.pos);
  }

  private consume(text: string): boolean {
    if (!this.startsWith(text)) return false;
    this.advance(text.length);
    return true;
  }

  private match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.pos;
    return pattern.exec(this.source)?.[0];
  }

  private advance(count: number): void {
    for (let i = 0; i < count && this.pos < this.source.length; i++) {
      const c = this.source[this.pos++];
      if (c === '\n') {
        this.line++;
        this.column = 0;
      } else if (c === '\t') {
        this.column += 8 - (this.column % 8);
      } else {
        this.column++;
      }
    }
  }

  private fail(problem: string): never {
    throw new ProtoSyntaxError(this.file, this.line, this.column, problem);
  }
}
