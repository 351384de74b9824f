import type { FileDescriptor, MessageDescriptor } from './proto-descriptor.types';
import { type ParsedProtoFile, parseProtoFile, type TypeReference } from './proto-file.parser';
import { ProtoSyntaxError } from './proto-source.tokenizer';

/**
 * .proto files and everything they import, as protoc would describe them: one descriptor per
 * file, imports before the files that need them, every type name fully qualified by protoc's
 * scoping rules and only from the file itself or what it imports.
 */
export function compileProtoFiles(
  names: readonly string[],
  read: (name: string) => string,
): FileDescriptor[] {
  const parsed = new Map<string, ParsedProtoFile>();
  const inProgress: string[] = [];
  const load = (name: string): void => {
    if (parsed.has(name)) return;
    if (inProgress.includes(name)) {
      throw new Error(`import cycle: ${[...inProgress, name].join(' → ')}`);
    }
    inProgress.push(name);
    const file = parseProtoFile(name, read(name));
    for (const dependency of file.descriptor.dependency) load(dependency);
    inProgress.pop();
    parsed.set(name, file);
  };
  names.forEach(load);

  const symbols = new SymbolTable([...parsed.values()].map((p) => p.descriptor));
  for (const { descriptor, references } of parsed.values()) {
    const visible = visibleFiles(descriptor, parsed);
    for (const reference of references) symbols.resolve(descriptor, visible, reference);
  }
  return [...parsed.values()].map((p) => p.descriptor);
}

/** The file, what it imports, and what those re-export with `import public`. */
function visibleFiles(file: FileDescriptor, parsed: Map<string, ParsedProtoFile>): Set<string> {
  const visible = new Set([file.name]);
  const addPublic = (name: string): void => {
    const imported = parsed.get(name)!.descriptor;
    for (const index of imported.publicDependency) {
      const target = imported.dependency[index]!;
      if (!visible.has(target)) {
        visible.add(target);
        addPublic(target);
      }
    }
  };
  for (const dependency of file.dependency) {
    visible.add(dependency);
    addPublic(dependency);
  }
  return visible;
}

type SymbolKind = 'package' | 'message' | 'enum' | 'service';

class SymbolTable {
  private readonly symbols = new Map<string, { kind: SymbolKind; file: string }>();

  constructor(files: FileDescriptor[]) {
    for (const file of files) {
      const parts = file.package ? file.package.split('.') : [];
      parts.forEach((_, i) => this.define(parts.slice(0, i + 1).join('.'), 'package', file));
      const scope = file.package ?? '';
      for (const message of file.messageType) this.defineMessage(scope, message, file);
      for (const enumeration of file.enumType)
        this.define(join(scope, enumeration.name), 'enum', file);
      for (const service of file.service) this.define(join(scope, service.name), 'service', file);
    }
  }

  /** protoc: the first name part is looked up from the innermost scope out; the rest below it. */
  resolve(file: FileDescriptor, visible: Set<string>, reference: TypeReference): void {
    const fail = (problem: string): never => {
      throw new ProtoSyntaxError(file.name, reference.token.line, reference.token.column, problem);
    };
    let found: string | undefined;
    if (reference.name.startsWith('.')) {
      found = reference.name.slice(1);
    } else {
      const [first, ...rest] = reference.name.split('.');
      const scope = [...(file.package ? file.package.split('.') : []), ...reference.scope];
      for (let depth = scope.length; depth >= 0 && found === undefined; depth--) {
        const candidate = join(scope.slice(0, depth).join('.'), first!);
        const symbol = this.symbols.get(candidate);
        if (!symbol) continue;
        // A field or enum of that name would not hide an outer package or message.
        if (rest.length > 0 && symbol.kind !== 'package' && symbol.kind !== 'message') continue;
        found = [candidate, ...rest].join('.');
      }
    }
    const symbol = found === undefined ? undefined : this.symbols.get(found);
    if (!symbol || (symbol.kind !== 'message' && symbol.kind !== 'enum')) {
      return fail(`"${reference.name}" is not defined`);
    }
    if (!visible.has(symbol.file)) {
      fail(`"${reference.name}" is defined in "${symbol.file}", which is not imported`);
    }
    if (reference.messageOnly && symbol.kind !== 'message') {
      fail(`"${reference.name}" is not a message type`);
    }
    reference.resolve(`.${found}`, symbol.kind === 'enum');
  }

  private defineMessage(scope: string, message: MessageDescriptor, file: FileDescriptor): void {
    const name = join(scope, message.name);
    this.define(name, 'message', file);
    for (const nested of message.nestedType) this.defineMessage(name, nested, file);
    for (const enumeration of message.enumType) {
      this.define(join(name, enumeration.name), 'enum', file);
    }
  }

  private define(name: string, kind: SymbolKind, file: FileDescriptor): void {
    const existing = this.symbols.get(name);
    if (existing && !(existing.kind === 'package' && kind === 'package')) {
      throw new Error(`"${name}" is defined twice: in ${existing.file} and in ${file.name}`);
    }
    if (!existing) this.symbols.set(name, { kind, file: file.name });
  }
}

function join(scope: string, name: string): string {
  return scope ? `${scope}.${name}` : name;
}
