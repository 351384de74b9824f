import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { kafkaGroupId } from '@app/bus/kafka-bus';
import { type Topic, Topics, deadLetterTopic } from '@app/contracts/topics';
import { EVIDENCE_TAP_GROUP } from '@app/pipeline/evidence.tap';
import { RECORDER_GROUP } from '@app/pipeline/incident.recorder';
import { Groups } from '@app/pipeline/pipeline.ports';
import { loadDatabaseUrl } from '@app/config/database-url';
import { loadApiConfig } from '@app/service/api-config.loader';
import { loadEdgeConfig } from '@app/service/edge-config.loader';

/**
 * Validates k8s/ (every kustomization, rendered by the real kustomize) against the Kubernetes
 * JSON schemas and the Strimzi and KEDA CRD schemas with kubeconform, checks what the schemas
 * cannot (probes, security, topics, autoscaling, the GPU overlay), and lints the Dockerfile
 * with hadolint. Everything runs offline from the tools that `scripts/validate-k8s.sh install`
 * put in .cache/k8s-validate; the child processes get a dead proxy, so a tool that tried to
 * reach the network would fail rather than pass by luck.
 */

const ROOT = resolve(__dirname, '..');
const K8S = join(ROOT, 'k8s');
const TOOLS = resolve(ROOT, process.env.VIGIL_K8S_TOOLS ?? join('.cache', 'k8s-validate'));
const OFFLINE_ENV = {
  ...process.env,
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '',
  no_proxy: '',
  GOPROXY: 'off',
};

interface ToolsManifest {
  kubeVersions: string[];
  strimzi: string;
  keda: string;
}

function tools(): ToolsManifest {
  const manifest = join(TOOLS, 'tools.json');
  if (!existsSync(manifest)) {
    throw new Error(
      `The k8s validation tools are not installed in ${TOOLS}. ` +
        'Run `bash scripts/validate-k8s.sh install` once (it needs the package registries); ' +
        'the test itself runs offline.',
    );
  }
  return JSON.parse(readFileSync(manifest, 'utf8')) as ToolsManifest;
}

function run(tool: string, args: string[], input?: string): { code: number; out: string } {
  const result = spawnSync(join(TOOLS, 'bin', tool), args, {
    cwd: ROOT,
    env: OFFLINE_ENV,
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, out: `${result.stdout}${result.stderr}` };
}

// ---------------------------------------------------------------------------------------------
// Kubernetes objects, as far as the checks below read them.

type Labels = Record<string, string>;

interface Metadata {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
}

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
}

interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: {
    requests?: Record<string, string | number>;
    limits?: Record<string, string | number>;
  };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    seccompProfile?: { type: string };
  };
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: { matchLabels?: Labels } }[];
  tolerations?: { key?: string }[];
  initContainers?: Container[];
  containers: Container[];
  volumes?: {
    name: string;
    emptyDir?: { sizeLimit?: string };
    configMap?: { name: string };
    persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
    hostPath?: { path: string; type?: string };
    secret?: { secretName: string };
  }[];
}

interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    strategy?: { type?: string; rollingUpdate?: object };
    selector: { matchLabels: Labels };
    template: { metadata: { labels: Labels }; spec: PodSpec };
  };
}

interface Service extends K8sObject {
  spec: {
    selector: Labels;
    ports: { name?: string; port: number; targetPort?: string | number }[];
  };
}

type ConfigMap = K8sObject & { data: Record<string, string> };
type Secret = K8sObject & { stringData: Record<string, string> };

interface PersistentVolumeClaim extends K8sObject {
  spec: {
    accessModes: string[];
    storageClassName?: string;
    resources: { requests: { storage: string } };
  };
}

interface KafkaTopic extends K8sObject {
  spec: {
    topicName?: string;
    partitions: number;
    replicas: number;
    config: Record<string, string | number>;
  };
}

interface KafkaUser extends K8sObject {
  spec: {
    authentication: {
      type: string;
      password?: { valueFrom: { secretKeyRef: { name: string; key: string } } };
    };
    authorization: {
      acls: {
        resource: { type: string; name: string; patternType?: string };
        operations: string[];
      }[];
    };
  };
}

interface ScaledObject extends K8sObject {
  spec: {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers: {
      type: string;
      metadata: Record<string, string>;
      authenticationRef?: { name: string };
    }[];
  };
}

interface Rendered {
  name: string;
  yaml: string;
  objects: K8sObject[];
}

const APPS = ['ingest', 'spectrogram', 'inference', 'fusion'] as const;
const POSTGRES_OVERLAY = 'overlays/postgres';

function parseObjects(yaml: string, origin: string): K8sObject[] {
  return parseAllDocuments(yaml)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${origin}: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

function find<T extends K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found as T;
}

function all<T extends K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

/** Kubernetes quantities as numbers: CPU in cores, memory in bytes. */
function quantity(value: string | number | undefined): number {
  if (value === undefined) return NaN;
  if (typeof value === 'number') return value;
  const match = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(value);
  if (!match) return NaN;
  const factors: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    Ki: 2 ** 10,
    M: 1e6,
    Mi: 2 ** 20,
    G: 1e9,
    Gi: 2 ** 30,
    T: 1e12,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (match[2] ? factors[match[2]]! : 1);
}

function env(container: Container, name: string): EnvVar | undefined {
  return container.env?.find((e) => e.name === name);
}

// ---------------------------------------------------------------------------------------------
// Schemas in kubeconform's layout, made offline from what the install step fetched.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A CRD's openAPIV3Schema as a strict JSON schema, as kubeconform's openapi2jsonschema does
 * it: objects that list their properties allow no others (unless they preserve unknown fields,
 * like Strimzi's `config` maps), int-or-string fields take both, nullable fields take null.
 */
function strictCrdSchema(schema: Json): Json {
  if (!isObject(schema)) return schema;
  const out: JsonObject = { ...schema };
  if (out['x-kubernetes-int-or-string'] === true && !out.anyOf && !out.oneOf) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (isObject(out.properties)) {
    const properties: JsonObject = {};
    for (const [key, value] of Object.entries(out.properties)) {
      properties[key] = strictCrdSchema(value);
    }
    out.properties = properties;
    if (
      out.additionalProperties === undefined &&
      out['x-kubernetes-preserve-unknown-fields'] !== true
    ) {
      out.additionalProperties = false;
    }
  }
  if (isObject(out.additionalProperties)) {
    out.additionalProperties = strictCrdSchema(out.additionalProperties);
  }
  if (isObject(out.items)) out.items = strictCrdSchema(out.items);
  for (const combinator of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = out[combinator];
    if (Array.isArray(branches)) out[combinator] = branches.map(strictCrdSchema);
  }
  return out;
}

class SchemaStore {
  readonly dir: string;
  private readonly definitions = new Map<string, JsonObject>();

  constructor(private readonly manifest: ToolsManifest) {
    this.dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-schemas-'));
    this.writeCrds();
  }

  /** kubeconform's -schema-location arguments: built-in kinds first, then the CRDs. */
  locations(): string[] {
    return [
      `${this.dir}/builtin/{{ .NormalizedKubernetesVersion }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
      `${this.dir}/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`,
    ];
  }

  /**
   * kubernetes-validate ships "local" schemas whose $refs point into one _definitions.json;
   * kubeconform wants standalone files. Each built-in kind used gets one, with just the
   * definitions it reaches. A kind with no schema gets no file, and kubeconform fails on it.
   */
  prepareBuiltins(objects: K8sObject[]): void {
    for (const version of this.manifest.kubeVersions) {
      for (const object of objects) {
        if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') continue;
        const [groupOrVersion, version2] = object.apiVersion.split('/');
        const suffix = version2
          ? `-${groupOrVersion!.split('.')[0]!.toLowerCase()}-${version2.toLowerCase()}`
          : `-${groupOrVersion!.toLowerCase()}`;
        const file = `${object.kind.toLowerCase()}${suffix}.json`;
        const source = join(TOOLS, 'schemas', `v${version}`, file);
        const target = join(this.dir, 'builtin', `v${version}`, file);
        if (!existsSync(source) || existsSync(target)) continue;
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, JSON.stringify(this.standalone(version, source)));
      }
    }
  }

  private standalone(version: string, source: string): JsonObject {
    const text = readFileSync(source, 'utf8').replaceAll('"/api/_definitions.json#/', '"#/');
    const schema = JSON.parse(text) as JsonObject;
    delete schema.$id;
    const definitions = this.definitionsOf(version);
    const reached: JsonObject = {};
    const pending = [text];
    while (pending.length > 0) {
      for (const [, name] of pending.pop()!.matchAll(/"#\/\$defs\/([^"]+)"/g)) {
        if (name! in reached) continue;
        const definition = definitions[name!];
        if (definition === undefined) throw new Error(`${source}: no definition ${name}`);
        reached[name!] = definition;
        pending.push(JSON.stringify(definition));
      }
    }
    schema.$defs = reached;
    return schema;
  }

  private definitionsOf(version: string): JsonObject {
    let definitions = this.definitions.get(version);
    if (!definitions) {
      const file = join(TOOLS, 'schemas', `v${version}`, '_definitions.json');
      definitions = (JSON.parse(readFileSync(file, 'utf8')) as { $defs: JsonObject }).$defs;
      this.definitions.set(version, definitions);
    }
    return definitions;
  }

  private writeCrds(): void {
    const crdDir = join(TOOLS, 'crds');
    for (const file of readdirSync(crdDir).filter((f) => f.endsWith('.yaml'))) {
      for (const crd of parseAllDocuments(readFileSync(join(crdDir, file), 'utf8'))) {
        const definition = crd.toJS() as {
          kind: string;
          spec: {
            group: string;
            names: { kind: string };
            versions: { name: string; schema?: { openAPIV3Schema: Json } }[];
          };
        } | null;
        if (definition?.kind !== 'CustomResourceDefinition') continue;
        const { group, names, versions } = definition.spec;
        for (const version of versions) {
          if (!version.schema) continue;
          const target = join(
            this.dir,
            'crds',
            group,
            `${names.kind.toLowerCase()}_${version.name}.json`,
          );
          mkdirSync(dirname(target), { recursive: true });
          writeFileSync(target, JSON.stringify(strictCrdSchema(version.schema.openAPIV3Schema)));
        }
      }
    }
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface KubeconformResource {
  filename: string;
  kind: string;
  name: string;
  version: string;
  status: string;
  msg?: string;
}

/** kubeconform, strict, on YAML text; every resource's result, for every Kubernetes version. */
function kubeconform(
  store: SchemaStore,
  manifest: ToolsManifest,
  yaml: string,
  label: string,
): KubeconformResource[] {
  store.prepareBuiltins(parseObjects(yaml, label));
  const file = join(store.dir, `${label.replace(/[^a-z0-9-]+/gi, '_')}.yaml`);
  writeFileSync(file, yaml);
  const results: KubeconformResource[] = [];
  for (const version of manifest.kubeVersions) {
    const args = ['-strict', '-verbose', '-output', 'json', '-kubernetes-version', version];
    for (const location of store.locations()) args.push('-schema-location', location);
    const { out } = run('kubeconform', [...args, file]);
    let parsed: { resources: KubeconformResource[] | null };
    try {
      parsed = JSON.parse(out) as typeof parsed;
    } catch {
      throw new Error(`kubeconform did not answer in JSON:\n${out}`);
    }
    results.push(...(parsed.resources ?? []).map((r) => ({ ...r, version })));
  }
  return results;
}

function failures(results: KubeconformResource[]): string[] {
  return results
    .filter((r) => r.status !== 'statusValid')
    .map((r) => `${r.kind}/${r.name} (Kubernetes ${r.version}): ${r.status} ${r.msg ?? ''}`);
}

// ---------------------------------------------------------------------------------------------

/** Whether a kustomization is a Component: added to overlays, never built on its own. */
function isComponent(dir: string): boolean {
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    kind?: string;
  };
  return kustomization.kind === 'Component';
}

/** Every folder under k8s/ with a kustomization.yaml (components included). */
function kustomizations(dir = K8S): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) found.push(...kustomizations(join(dir, entry.name)));
  }
  if (existsSync(join(dir, 'kustomization.yaml'))) found.push(dir);
  return found.sort();
}

function yamlFiles(dir = K8S): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...yamlFiles(path));
    else if (/\.(ya?ml|env|json)$/.test(entry.name)) found.push(path);
  }
  return found;
}

describe('k8s manifests', () => {
  let manifest: ToolsManifest;
  let store: SchemaStore;
  const rendered = new Map<string, Rendered>();

  beforeAll(() => {
    manifest = tools();
    store = new SchemaStore(manifest);
    for (const dir of kustomizations().filter((d) => !isComponent(d))) {
      const name = relative(K8S, dir);
      const { code, out } = run('kustomize', ['build', dir]);
      if (code !== 0) throw new Error(`kustomize build ${name} failed:\n${out}`);
      rendered.set(name, { name, yaml: out, objects: parseObjects(out, name) });
    }
  });

  afterAll(() => store?.dispose());

  const base = (): K8sObject[] => rendered.get('base')!.objects;
  const deployment = (objects: K8sObject[], app: string): Deployment =>
    find<Deployment>(objects, 'Deployment', `vigil-${app}`);
  const mainContainer = (d: Deployment): Container => d.spec.template.spec.containers[0]!;
  /** The apps' environment: the ConfigMap made from config.env. */
  const envConfig = (): ConfigMap =>
    find<ConfigMap>(
      base(),
      'ConfigMap',
      mainContainer(deployment(base(), 'ingest')).envFrom![0]!.configMapRef!.name,
    );

  it('has base and the gpu, no-keda, monitoring, edge and postgres overlays, and every manifest file is used by one', () => {
    expect([...rendered.keys()]).toEqual(
      expect.arrayContaining([
        'base',
        'overlays/gpu',
        'overlays/no-keda',
        'overlays/monitoring',
        'overlays/edge',
        POSTGRES_OVERLAY,
      ]),
    );
    const referenced = new Set<string>();
    for (const dir of kustomizations()) {
      const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
        resources?: string[];
        patches?: { path?: string }[];
        configMapGenerator?: { envs?: string[]; files?: string[] }[];
        components?: string[];
      };
      const paths = [
        ...(kustomization.resources ?? []),
        ...(kustomization.components ?? []),
        ...(kustomization.patches ?? []).flatMap((p) => (p.path ? [p.path] : [])),
        ...(kustomization.configMapGenerator ?? []).flatMap((g) => [
          ...(g.envs ?? []),
          ...(g.files ?? []),
        ]),
      ];
      for (const path of paths) {
        const target = resolve(dir, path);
        expect(existsSync(target)).toBe(true);
        referenced.add(target);
      }
    }
    const unused = yamlFiles()
      .filter((f) => basename(f) !== 'kustomization.yaml' && !referenced.has(f))
      .map((f) => relative(ROOT, f));
    expect(unused).toEqual([]);
  });

  it('validates every rendered kustomization against the Kubernetes, Strimzi and KEDA schemas', () => {
    for (const { name, yaml, objects } of rendered.values()) {
      const results = kubeconform(store, manifest, yaml, name);
      expect({ name, failures: failures(results) }).toEqual({ name, failures: [] });
      // Every object was checked against a schema for every version, none skipped.
      expect(results).toHaveLength(objects.length * manifest.kubeVersions.length);
    }
  });

  describe('catches broken manifests (the validator is not a rubber stamp)', () => {
    const validDeployment = (): Deployment => structuredClone(deployment(base(), 'ingest'));

    const verdict = (objects: object[], label: string): string[] =>
      failures(
        kubeconform(
          store,
          manifest,
          objects.map((o) => `---\n${JSON.stringify(o)}\n`).join(''),
          label,
        ),
      );

    it('accepts the unbroken Deployment it starts from', () => {
      expect(verdict([validDeployment()], 'control')).toEqual([]);
    });

    /** The one problem, found for every Kubernetes version and nothing else. */
    const expectRejected = (objects: object[], label: string, problem: RegExp): void => {
      const found = verdict(objects, label);
      expect(found).toHaveLength(manifest.kubeVersions.length);
      for (const failure of found) expect(failure).toMatch(problem);
    };

    it('rejects a Deployment with replicas: "two"', () => {
      const broken = validDeployment() as unknown as { spec: { replicas: unknown } };
      broken.spec.replicas = 'two';
      expectRejected([broken], 'replicas-two', /at '\/spec\/replicas': got string, want .*integer/);
    });

    it('rejects a field Kubernetes does not know (strict mode)', () => {
      const broken = validDeployment() as unknown as { spec: Record<string, unknown> };
      broken.spec.replica = 2;
      expectRejected([broken], 'unknown-field', /additional properties 'replica' not allowed/);
    });

    it('rejects a probe on a port that is neither a number nor a name', () => {
      const broken = validDeployment();
      (broken.spec.template.spec.containers[0]!.livenessProbe!.httpGet as { port: unknown }).port =
        { name: 'http' };
      expectRejected([broken], 'probe-port', /livenessProbe\/httpGet\/port/);
    });

    it('rejects a KafkaTopic with partitions: "six" (the Strimzi CRD schema is applied)', () => {
      const broken = structuredClone(find<KafkaTopic>(base(), 'KafkaTopic', 'vigil-events'));
      (broken.spec as { partitions: unknown }).partitions = 'six';
      expectRejected([broken], 'topic-partitions', /at '\/spec\/partitions': got string/);
    });

    it('rejects a KafkaTopic field Strimzi does not know (strict CRD schemas)', () => {
      const broken = structuredClone(find<KafkaTopic>(base(), 'KafkaTopic', 'vigil-events'));
      (broken.spec as unknown as Record<string, unknown>).retention = '30d';
      expectRejected([broken], 'topic-field', /additional properties 'retention' not allowed/);
    });

    it('rejects a Kafka listener with an unknown type (enums are applied)', () => {
      const broken = structuredClone(find<K8sObject>(base(), 'Kafka', 'vigil')) as unknown as {
        spec: { kafka: { listeners: { type: string }[] } };
      };
      broken.spec.kafka.listeners[0]!.type = 'public';
      expectRejected([broken], 'listener-type', /listeners\/0\/type': value must be one of/);
    });

    it('rejects a ScaledObject with a misspelt field (the KEDA CRD schema is applied)', () => {
      const broken = structuredClone(
        find<ScaledObject>(base(), 'ScaledObject', 'vigil-inference'),
      ) as unknown as { spec: Record<string, unknown> };
      broken.spec.maxReplicas = 6;
      expectRejected(
        [broken],
        'scaledobject-field',
        /additional properties 'maxReplicas' not allowed/,
      );
    });

    it('rejects a kind it has no schema for instead of skipping it', () => {
      const unknown = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
      expectRejected([unknown], 'unknown-kind', /could not find schema for Widget/);
    });
  });

  it('puts everything in the vigil namespace', () => {
    const namespaced = base().filter((o) => o.kind !== 'Namespace');
    expect(find(base(), 'Namespace', 'vigil')).toBeDefined();
    expect(namespaced.filter((o) => o.metadata.namespace !== 'vigil')).toEqual([]);
  });

  describe.each(APPS)('the %s Deployment', (app) => {
    const d = (): Deployment => deployment(base(), app);

    it('selects its own pods and runs the app image', () => {
      const { selector, template } = d().spec;
      expect(template.metadata.labels).toMatchObject(selector.matchLabels);
      expect(selector.matchLabels['app.kubernetes.io/name']).toBe(`vigil-${app}`);
      expect(mainContainer(d()).image).toMatch(new RegExp(`/${app}:[\\w.-]+$`));
    });

    it('probes /health/live and /health/ready on port 8080', () => {
      const container = mainContainer(d());
      const http = container.ports?.find((p) => p.name === 'http');
      expect(http?.containerPort).toBe(8080);
      expect(container.livenessProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe?.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container.startupProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
    });

    it('is configured by the ConfigMap and the Kafka credentials Secret', () => {
      const container = mainContainer(d());
      const configMap = container.envFrom?.[0]?.configMapRef?.name;
      const config = find<K8sObject & { data: Record<string, string> }>(
        base(),
        'ConfigMap',
        configMap!,
      );
      for (const key of ['KAFKA_BROKERS', 'VIGIL_PARTITIONS', 'VIGIL_EXECUTION_PROVIDER']) {
        expect(config.data[key]).toBeTruthy();
      }
      for (const key of ['VIGIL_FPS', 'VIGIL_LOG_LEVEL', 'FFMPEG_PATH', 'VIGIL_MODELS_DIR']) {
        expect(config.data[key]).toBeTruthy();
      }
      expect(env(container, 'KAFKA_CLIENT_ID')?.value).toBe(`vigil-${app}`);
      expect(env(container, 'KAFKA_GROUP_ID')?.value).toBe(
        app === 'ingest' ? 'vigil-ingest' : Groups[app],
      );
      const secret = find<K8sObject & { stringData: Record<string, string> }>(
        base(),
        'Secret',
        'vigil-sasl-credentials',
      );
      for (const [variable, key] of [
        ['KAFKA_SASL_USERNAME', 'username'],
        ['KAFKA_SASL_PASSWORD', 'password'],
      ] as const) {
        const ref = env(container, variable)?.valueFrom?.secretKeyRef;
        expect(ref).toEqual({ name: secret.metadata.name, key });
        expect(secret.stringData[key]).toBeTruthy();
      }
    });

    it('runs as non-root on a read-only root filesystem with a writable /tmp', () => {
      const pod = d().spec.template.spec;
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(pod.securityContext!.runAsUser).toBeGreaterThan(0);
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
      const tmp = mainContainer(d()).volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    });

    it('requests and limits CPU and memory, limits no lower than requests', () => {
      const { requests, limits } = mainContainer(d()).resources ?? {};
      for (const resource of ['cpu', 'memory']) {
        expect(quantity(requests?.[resource])).toBeGreaterThan(0);
        expect(quantity(limits?.[resource])).toBeGreaterThanOrEqual(quantity(requests?.[resource]));
      }
    });

    it('keeps the V8 heap well below the memory limit (Buffers, native code and ffmpeg live beside it)', () => {
      const container = mainContainer(d());
      const heap = /--max-old-space-size=(\d+)/.exec(env(container, 'NODE_OPTIONS')?.value ?? '');
      expect(heap).not.toBeNull();
      const limit = quantity(container.resources?.limits?.memory);
      expect(Number(heap![1]) * 2 ** 20).toBeLessThanOrEqual(0.7 * limit);
    });

    it('has time to finish in-flight work and commit, and spreads over zones and nodes', () => {
      const pod = d().spec.template.spec;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
      const keys = (pod.topologySpreadConstraints ?? []).map((c) => c.topologyKey);
      expect(keys).toEqual(
        expect.arrayContaining(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']),
      );
      for (const constraint of pod.topologySpreadConstraints ?? []) {
        expect(constraint.labelSelector?.matchLabels).toEqual(d().spec.selector.matchLabels);
      }
    });
  });

  it('gives inference the most CPU and memory and the longest grace period', () => {
    const inference = deployment(base(), 'inference');
    for (const app of APPS.filter((a) => a !== 'inference')) {
      const other = deployment(base(), app);
      for (const resource of ['cpu', 'memory']) {
        expect(quantity(mainContainer(inference).resources!.requests![resource])).toBeGreaterThan(
          quantity(mainContainer(other).resources!.requests![resource]),
        );
      }
      expect(inference.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
        other.spec.template.spec.terminationGracePeriodSeconds!,
      );
    }
  });

  it('fills the models folder of inference before it starts, from vigil models pull', () => {
    const inference = deployment(base(), 'inference');
    const config = find<K8sObject & { data: Record<string, string> }>(
      base(),
      'ConfigMap',
      mainContainer(inference).envFrom![0]!.configMapRef!.name,
    );
    const modelsDir = config.data.VIGIL_MODELS_DIR!;
    const [init] = inference.spec.template.spec.initContainers ?? [];
    expect(init?.image).toBe(mainContainer(inference).image);
    expect(init?.command?.slice(0, 4)).toEqual([
      'node',
      'dist/apps/vigil/main.js',
      'models',
      'pull',
    ]);
    expect(init?.command).toContain('--mirror');
    const written = init?.volumeMounts?.find((m) => m.mountPath === modelsDir);
    const read = mainContainer(inference).volumeMounts?.find((m) => m.mountPath === modelsDir);
    expect(written?.name).toBeDefined();
    expect(read).toEqual({ name: written!.name, mountPath: modelsDir, readOnly: true });
  });

  it('serves the operator console from fusion alone, on a named port its Service routes', () => {
    const fusion = deployment(base(), 'fusion');
    const container = mainContainer(fusion);
    const address = env(container, 'VIGIL_HTTP_ADDRESS')?.value ?? '';
    const port = container.ports?.find((p) => p.name === 'console');
    expect(address).toBe(`0.0.0.0:${port?.containerPort}`);
    const service = find<Service>(base(), 'Service', 'vigil-fusion');
    expect(service.spec.ports.find((p) => p.name === 'console')?.targetPort).toBe('console');
    // Not in the shared environment: ingest and inference serve no console.
    expect(envConfig().data.VIGIL_HTTP_ADDRESS).toBeUndefined();
  });

  it('serves gRPC on 50051 for ingest, inference and fusion through Services that select their pods', () => {
    expect(envConfig().data.VIGIL_GRPC_ADDRESS).toBe('0.0.0.0:50051');
    for (const app of ['ingest', 'inference', 'fusion']) {
      const service = find<Service>(base(), 'Service', `vigil-${app}`);
      const d = deployment(base(), app);
      expect(d.spec.template.metadata.labels).toMatchObject(service.spec.selector);
      const port = service.spec.ports.find((p) => p.port === 50051);
      expect(port).toBeDefined();
      const target = mainContainer(d).ports?.find((p) => p.name === port!.targetPort);
      expect(target?.containerPort).toBe(50051);
    }
  });

  describe('the user-facing API', () => {
    const API_APPS = ['ingest', 'inference', 'fusion'] as const;
    const configFile = (): string => envConfig().data.VIGIL_CONFIG_FILE!;
    const dataDir = (): string => envConfig().data.VIGIL_DATA_DIR!;
    /** The ConfigMap a Deployment mounts at the config file's folder, and the mount. */
    const mountedConfig = (app: string) => {
      const d = deployment(base(), app);
      const mount = mainContainer(d).volumeMounts?.find(
        (m) => m.mountPath === dirname(configFile()),
      );
      const volume = d.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
      const configMap = volume?.configMap
        ? find<ConfigMap>(base(), 'ConfigMap', volume.configMap.name)
        : undefined;
      return { mount, configMap };
    };
    const apiSecret = (): Secret => find<Secret>(base(), 'Secret', 'vigil-api-secrets');
    /** What the app's process.env holds, as far as the ConfigMaps, Secrets and env give it. */
    const processEnv = (app: string): Record<string, string> => {
      const container = mainContainer(deployment(base(), app));
      const out: Record<string, string> = {};
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef) {
          Object.assign(out, find<ConfigMap>(base(), 'ConfigMap', source.configMapRef.name).data);
        }
        if (source.secretRef) {
          Object.assign(out, find<Secret>(base(), 'Secret', source.secretRef.name).stringData);
        }
      }
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        const value = ref
          ? find<Secret>(base(), 'Secret', ref.name).stringData[ref.key]
          : variable.value;
        if (value !== undefined) out[variable.name] = value;
      }
      return out;
    };

    it('points ingest, inference and fusion at vigil.yaml, mounted read-only from its ConfigMap', () => {
      expect(configFile()).toBe('/etc/vigil/vigil.yaml');
      for (const app of API_APPS) {
        const { mount, configMap } = mountedConfig(app);
        expect({ app, readOnly: mount?.readOnly }).toEqual({ app, readOnly: true });
        expect(configMap?.metadata.name).toMatch(/^vigil-api-/);
        expect(configMap?.data[basename(configFile())]).toBeTruthy();
      }
    });

    it('lets spectrogram, which serves no API, read no config file and hold no API secret', () => {
      const container = mainContainer(deployment(base(), 'spectrogram'));
      expect(processEnv('spectrogram').VIGIL_CONFIG_FILE).toBe('');
      expect(mountedConfig('spectrogram').mount).toBeUndefined();
      expect(container.envFrom?.some((e) => e.secretRef)).toBe(false);
    });

    it('loads with the real loader in each app, from the environment its Deployment gives it', () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-api-config-'));
      try {
        for (const app of API_APPS) {
          const file = join(dir, `${app}.yaml`);
          writeFileSync(file, mountedConfig(app).configMap!.data[basename(configFile())]!);
          // Every variable the file names is set (a missing one would stop the app at start).
          const api = loadApiConfig(file, processEnv(app));
          expect(api.grpc?.address).toBe('0.0.0.0:50051');
          expect(api.tokens.map((t) => t.role).sort()).toEqual(['operator', 'viewer']);
          expect(api.history.path).toBe(join(dataDir(), 'history.sqlite'));
          expect(api.evidence.dir).toBe(join(dataDir(), 'evidence'));
          // Placeholders (URL parsing lowercases the host).
          expect(api.webhooks.map((w) => w.url)).toEqual([expect.stringMatching(/REPLACE-ME/i)]);
          expect(api.evidence.publicUrl).toMatch(/REPLACE-ME/);
          if (app === 'fusion') {
            // The evidence links' port is the container's and the Service's "evidence" port.
            const port = Number(api.evidence.httpAddress!.split(':').pop());
            const fusion = mainContainer(deployment(base(), 'fusion'));
            const service = find<Service>(base(), 'Service', 'vigil-fusion');
            const exposed = service.spec.ports.find((p) => p.name === 'evidence');
            expect(fusion.ports?.find((p) => p.name === exposed?.targetPort)?.containerPort).toBe(
              port,
            );
            // Evidence fits the claim, with room for the history.
            const claim = find<PersistentVolumeClaim>(
              base(),
              'PersistentVolumeClaim',
              'vigil-fusion-data',
            );
            expect(api.evidence.maxBytes).toBeLessThan(
              0.8 * quantity(claim.spec.resources.requests.storage),
            );
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('keeps every secret out of vigil.yaml: each comes from the placeholder Secret by name', () => {
      const raw = parse(mountedConfig('fusion').configMap!.data[basename(configFile())]!) as Json;
      const named: string[] = [];
      const walk = (value: Json, key: string): void => {
        if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${key}[${i}]`));
        if (!isObject(value)) return;
        for (const [k, v] of Object.entries(value)) {
          expect({
            key: `${key}.${k}`,
            inline: ['token', 'secret', 'linkSecret'].includes(k),
          }).toEqual({
            key: `${key}.${k}`,
            inline: false,
          });
          if (/Env$/.test(k) && typeof v === 'string') named.push(v);
          walk(v, `${key}.${k}`);
        }
      };
      walk(raw, '');
      expect(named.sort()).toEqual(Object.keys(apiSecret().stringData).sort());
      for (const value of Object.values(apiSecret().stringData)) {
        expect(value).toMatch(/REPLACE-ME/);
        expect(value.length).toBeGreaterThanOrEqual(16);
      }
      expect(apiSecret().metadata.annotations?.['vigil/placeholder']).toMatch(/^true/);
    });

    it('runs fusion as one replica, replaced with Recreate, on a ReadWriteOnce claim at VIGIL_DATA_DIR', () => {
      const fusion = deployment(base(), 'fusion');
      // SQLite has one writer: two pods must never open the file at once.
      expect(fusion.spec.replicas).toBe(1);
      expect(fusion.spec.strategy).toEqual({ type: 'Recreate' });
      const mount = mainContainer(fusion).volumeMounts?.find((m) => m.mountPath === dataDir());
      expect(mount?.readOnly).not.toBe(true);
      const volume = fusion.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
      const claim = find<PersistentVolumeClaim>(
        base(),
        'PersistentVolumeClaim',
        volume!.persistentVolumeClaim!.claimName,
      );
      expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
      expect(claim.spec.resources.requests.storage).toBe('20Gi');
      expect(claim.spec.storageClassName).toBeUndefined(); // the cluster's default class
      // The media buffer for evidence (up to 128 MiB) on top of Node.
      const { requests, limits } = mainContainer(fusion).resources!;
      expect(quantity(requests!.memory)).toBeGreaterThanOrEqual(512 * 2 ** 20);
      expect(quantity(limits!.memory)).toBeGreaterThanOrEqual(2 ** 30);
      // Nothing scales fusion or counts on a second replica, in any kustomization with the
      // SQLite history (overlays/postgres moves it to PostgreSQL: see below).
      for (const { name, objects } of rendered.values()) {
        if (name === POSTGRES_OVERLAY) continue;
        const targets = [
          ...all<ScaledObject>(objects, 'ScaledObject').map((o) => o.spec.scaleTargetRef.name),
          ...all<K8sObject & { spec: { scaleTargetRef: { name: string } } }>(
            objects,
            'HorizontalPodAutoscaler',
          ).map((o) => o.spec.scaleTargetRef.name),
        ];
        expect({ name, targets }).toEqual({
          name,
          targets: expect.not.arrayContaining(['vigil-fusion']),
        });
        const budgets = all<K8sObject & { spec: { selector: { matchLabels: Labels } } }>(
          objects,
          'PodDisruptionBudget',
        ).filter(
          (pdb) => pdb.spec.selector.matchLabels['app.kubernetes.io/name'] === 'vigil-fusion',
        );
        expect({ name, budgets }).toEqual({ name, budgets: [] });
        expect(deployment(objects, 'fusion').spec.replicas).toBe(1);
      }
    });
  });

  describe('overlays/postgres: fusion replicas sharing PostgreSQL', () => {
    const objects = (): K8sObject[] => rendered.get(POSTGRES_OVERLAY)!.objects;
    const fusion = (): Deployment => deployment(objects(), 'fusion');
    const env = (): EnvVar[] => mainContainer(fusion()).env ?? [];

    it('runs two fusion replicas, replaced one at a time, with one kept up through drains', () => {
      expect(fusion().spec.replicas).toBeGreaterThan(1);
      expect(fusion().spec.strategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      });
      const pdb = find<
        K8sObject & { spec: { minAvailable?: number; selector: { matchLabels: Labels } } }
      >(objects(), 'PodDisruptionBudget', 'vigil-fusion');
      expect(pdb.spec.minAvailable).toBe(1);
      expect(fusion().spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
      // the other apps as in base
      for (const app of ['ingest', 'spectrogram', 'inference'] as const) {
        expect(deployment(objects(), app)).toEqual(deployment(base(), app));
      }
    });

    it('gives fusion a VIGIL_DATABASE_URL that the config accepts, its password from a Secret', () => {
      const names = env().map((e) => e.name);
      const url = env().find((e) => e.name === 'VIGIL_DATABASE_URL')!.value!;
      const password = env().find((e) => e.name === 'VIGIL_DB_PASSWORD')!;
      // $(VAR) is expanded by the kubelet only from variables defined before it.
      expect(names.indexOf('VIGIL_DB_PASSWORD')).toBeLessThan(names.indexOf('VIGIL_DATABASE_URL'));
      expect(url).toContain('$(VIGIL_DB_PASSWORD)');
      const secret = find<Secret>(objects(), 'Secret', password.valueFrom!.secretKeyRef!.name);
      expect(secret.stringData[password.valueFrom!.secretKeyRef!.key]).toMatch(/REPLACE-ME/);
      const expanded = url.replace('$(VIGIL_DB_PASSWORD)', 'a-long-random-password');
      expect(loadDatabaseUrl({ VIGIL_DATABASE_URL: expanded })).toBe(expanded);
      // the host is the PostgreSQL Service, on its port
      const service = find<Service>(objects(), 'Service', new URL(expanded).hostname);
      expect(service.spec.ports.map((p) => p.port)).toContain(Number(new URL(expanded).port));
      const postgres = find<
        K8sObject & {
          spec: {
            replicas: number;
            template: { metadata: { labels: Labels } };
            volumeClaimTemplates: PersistentVolumeClaim[];
          };
        }
      >(objects(), 'StatefulSet', 'vigil-postgres');
      expect(postgres.spec.template.metadata.labels).toMatchObject(service.spec.selector);
      expect(postgres.spec.replicas).toBe(1);
      expect(postgres.spec.volumeClaimTemplates[0]!.spec.accessModes).toEqual(['ReadWriteOnce']);
    });

    it('shares the evidence volume between the replicas (ReadWriteMany)', () => {
      const mount = mainContainer(fusion()).volumeMounts!.find((m) => m.name === 'data')!;
      const volume = fusion().spec.template.spec.volumes!.find((v) => v.name === mount.name)!;
      const claim = find<PersistentVolumeClaim>(
        objects(),
        'PersistentVolumeClaim',
        volume.persistentVolumeClaim!.claimName,
      );
      expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
    });
  });

  it('keeps at most one inference pod down for voluntary disruptions', () => {
    const pdb = find<
      K8sObject & { spec: { maxUnavailable?: number; selector: { matchLabels: Labels } } }
    >(base(), 'PodDisruptionBudget', 'vigil-inference');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(deployment(base(), 'inference').spec.template.metadata.labels).toMatchObject(
      pdb.spec.selector.matchLabels,
    );
  });

  it('marks the Secret values as placeholders: no real credential is committed', () => {
    const secret = find<K8sObject & { stringData: Record<string, string> }>(
      base(),
      'Secret',
      'vigil-sasl-credentials',
    );
    expect(secret.stringData.password).toMatch(/REPLACE-ME/);
    expect(secret.metadata.annotations?.['vigil/placeholder']).toMatch(/^true/);
    expect(secret.stringData.username).toBe(find(base(), 'KafkaUser', 'vigil').metadata.name);
  });

  describe('Kafka (Strimzi)', () => {
    const topics = (): KafkaTopic[] => all<KafkaTopic>(base(), 'KafkaTopic');
    const topicName = (t: KafkaTopic): string => t.spec.topicName ?? t.metadata.name;
    const topic = (name: string): KafkaTopic => {
      const found = topics().find((t) => topicName(t) === name);
      if (!found) throw new Error(`no KafkaTopic for ${name}`);
      return found;
    };
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    /** What the Kafka bus connects to at start: every contract topic and its dead letters. */
    const CONTRACT = Object.values(Topics).map((t) => t.name);

    it('runs a KRaft cluster from node pools with controllers and brokers', () => {
      const kafka = find(base(), 'Kafka', 'vigil');
      const pools = all<K8sObject & { spec: { roles: string[]; replicas: number } }>(
        base(),
        'KafkaNodePool',
      );
      for (const pool of pools) {
        expect(pool.metadata.labels?.['strimzi.io/cluster']).toBe(kafka.metadata.name);
      }
      for (const role of ['controller', 'broker']) {
        const replicas = pools
          .filter((p) => p.spec.roles.includes(role))
          .reduce((n, p) => n + p.spec.replicas, 0);
        expect(replicas).toBeGreaterThanOrEqual(3);
      }
    });

    it('has every topic the apps use and its .dlq (they create none: no Create ACL)', () => {
      const wanted = [
        ...CONTRACT,
        ...Object.values(Topics).map((t: Topic<unknown>) => deadLetterTopic(t).name),
        'vigil.streams.commands',
      ];
      expect(topics().map(topicName).sort()).toEqual([...new Set(wanted)].sort());
    });

    it('gives every topic the configured partitions, 3 replicas and the cluster label', () => {
      const partitions = Number(envConfig().data.VIGIL_PARTITIONS);
      expect(partitions).toBe(6);
      for (const t of topics()) {
        expect({ topic: topicName(t), partitions: t.spec.partitions }).toEqual({
          topic: topicName(t),
          partitions,
        });
        expect(t.spec.replicas).toBe(3);
        expect(t.metadata.labels?.['strimzi.io/cluster']).toBe('vigil');
      }
    });

    it('keeps media 1 h, events 30 days and dead letters 7 days', () => {
      for (const name of ['vigil.media.audio', 'vigil.media.video', 'vigil.features.audio']) {
        expect(Number(topic(name).spec.config['retention.ms'])).toBe(HOUR);
        // Kafka deletes whole segments only: short retention needs segments that roll sooner.
        expect(Number(topic(name).spec.config['segment.ms'])).toBeLessThan(HOUR);
      }
      expect(Number(topic('vigil.events').spec.config['retention.ms'])).toBe(30 * DAY);
      for (const name of CONTRACT) {
        expect(Number(topic(`${name}.dlq`).spec.config['retention.ms'])).toBe(7 * DAY);
      }
    });

    it('lets a dead letter topic hold whatever its input topic can hold', () => {
      for (const name of CONTRACT) {
        const limit = topic(name).spec.config['max.message.bytes'];
        expect(topic(`${name}.dlq`).spec.config['max.message.bytes']).toBe(limit);
      }
    });

    it('gives the apps one SCRAM user whose password is the Secret and whose ACLs cover their topics and groups', () => {
      const user = find<KafkaUser>(base(), 'KafkaUser', 'vigil');
      expect(user.metadata.labels?.['strimzi.io/cluster']).toBe('vigil');
      expect(user.spec.authentication.type).toBe('scram-sha-512');
      expect(user.spec.authentication.password?.valueFrom.secretKeyRef).toEqual({
        name: 'vigil-sasl-credentials',
        key: 'password',
      });
      const allows = (type: string, name: string, operation: string): boolean =>
        user.spec.authorization.acls.some(
          (acl) =>
            acl.resource.type === type &&
            (acl.resource.patternType === 'prefix'
              ? name.startsWith(acl.resource.name)
              : name === acl.resource.name) &&
            (acl.operations.includes(operation) || acl.operations.includes('All')),
        );
      for (const t of topics()) {
        for (const operation of ['Read', 'Write', 'Describe']) {
          expect({
            topic: topicName(t),
            operation,
            allowed: allows('topic', topicName(t), operation),
          }).toEqual({ topic: topicName(t), operation, allowed: true });
        }
      }
      // The bus's real consumer groups: <stage group>.<topic>, one per topic a stage consumes;
      // fusion's evidence tap and incident recorder, and each ingest replica's StreamService
      // (vigil-ingest-api.<instance id>) have their own.
      for (const stage of [
        ...Object.values(Groups),
        'vigil-ingest',
        EVIDENCE_TAP_GROUP,
        RECORDER_GROUP,
        'vigil-ingest-api.vigil-ingest-5c9d8f7b6d-x2x7q-1',
      ]) {
        for (const name of CONTRACT) {
          const group = kafkaGroupId(stage, name);
          expect({ group, allowed: allows('group', group, 'Read') }).toEqual({
            group,
            allowed: true,
          });
        }
      }
    });
  });

  describe('autoscaling', () => {
    it('scales inference with KEDA on the lag of vigil-inference, within the partitions', () => {
      const scaled = find<ScaledObject>(base(), 'ScaledObject', 'vigil-inference');
      expect(scaled.spec.scaleTargetRef.name).toBe('vigil-inference');
      const kafka = scaled.spec.triggers.filter((t) => t.type === 'kafka');
      expect(kafka.map((t) => t.metadata.topic).sort()).toEqual([
        'vigil.features.audio',
        'vigil.media.video',
      ]);
      for (const trigger of kafka) {
        // The group the Kafka bus really uses for inference on that topic.
        expect(trigger.metadata.consumerGroup).toBe(
          kafkaGroupId(Groups.inference, trigger.metadata.topic!),
        );
        expect(trigger.metadata.bootstrapServers).toMatch(/^vigil-kafka-bootstrap\.vigil\.svc/);
        const auth = find<K8sObject & { spec: { secretTargetRef: { name: string }[] } }>(
          base(),
          'TriggerAuthentication',
          trigger.authenticationRef!.name,
        );
        for (const ref of auth.spec.secretTargetRef) {
          expect(find(base(), 'Secret', ref.name)).toBeDefined();
        }
      }
      expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
      expect(scaled.spec.maxReplicaCount).toBeLessThanOrEqual(6);
      expect(all(base(), 'HorizontalPodAutoscaler')).toEqual([]);
    });

    it('uses one plain CPU HPA instead, and no KEDA object, in overlays/no-keda', () => {
      const objects = rendered.get('overlays/no-keda')!.objects;
      expect(all(objects, 'ScaledObject')).toEqual([]);
      expect(all(objects, 'TriggerAuthentication')).toEqual([]);
      const [hpa, ...others] = all<
        K8sObject & { spec: { scaleTargetRef: { name: string }; maxReplicas: number } }
      >(objects, 'HorizontalPodAutoscaler');
      expect(others).toEqual([]);
      expect(hpa?.metadata.namespace).toBe('vigil');
      expect(hpa?.spec.scaleTargetRef.name).toBe('vigil-inference');
      expect(hpa?.spec.maxReplicas).toBeLessThanOrEqual(6);
    });
  });

  describe('overlays/monitoring', () => {
    const monitoring = (): K8sObject[] => rendered.get('overlays/monitoring')!.objects;
    type PodMonitor = K8sObject & {
      spec: {
        selector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
        podMetricsEndpoints: { port: string; path: string }[];
      };
    };

    it('scrapes /metrics on the health port of every replica of the four apps, and of nothing else', () => {
      const [monitor, ...others] = all<PodMonitor>(monitoring(), 'PodMonitor');
      expect(others).toEqual([]);
      expect(monitor!.metadata.namespace).toBe('vigil');
      const endpoint = monitor!.spec.podMetricsEndpoints[0]!;
      expect(endpoint.path).toBe('/metrics');
      const selects = (labels: Labels) =>
        monitor!.spec.selector.matchExpressions.every(
          (e) => e.operator === 'In' && e.values.includes(labels[e.key] ?? ''),
        );
      const deployments = all<Deployment>(monitoring(), 'Deployment');
      const scraped = deployments.filter((d) => selects(d.spec.template.metadata.labels));
      expect(scraped.map((d) => d.metadata.name).sort()).toEqual(
        ['vigil-fusion', 'vigil-inference', 'vigil-ingest', 'vigil-spectrogram'].sort(),
      );
      for (const d of scraped) {
        const port = mainContainer(d).ports?.find((p) => p.name === endpoint.port);
        // The port the health checks use is the one that serves /metrics.
        expect(port?.containerPort).toBe(8080);
        expect(mainContainer(d).readinessProbe?.httpGet?.port).toBe(endpoint.port);
      }
    });

    it('ships the Grafana dashboard for the sidecar, every panel on the chosen Prometheus', () => {
      const map = find<ConfigMap>(monitoring(), 'ConfigMap', 'vigil-grafana-dashboard');
      expect(map.metadata.labels?.grafana_dashboard).toBe('1');
      expect(map.metadata.namespace).toBe('vigil');
      const dashboard = JSON.parse(map.data['vigil-dashboard.json']!) as {
        uid: string;
        panels: { targets: { expr: string; datasource: { uid: string } }[] }[];
      };
      expect(dashboard.uid).toBe('vigil-overview');
      expect(dashboard.panels.length).toBeGreaterThan(10);
      for (const target of dashboard.panels.flatMap((p) => p.targets)) {
        expect(target.datasource.uid).toBe('${datasource}');
        expect(target.expr).toMatch(/\b(vigil|process|nodejs)_[a-z_]+/);
      }
      // The base deployment stays free of Prometheus Operator objects.
      expect(all<K8sObject>(base(), 'PodMonitor')).toEqual([]);
    });
  });

  describe('overlays/gpu', () => {
    const gpu = (): K8sObject[] => rendered.get('overlays/gpu')!.objects;

    it('gives inference one nvidia.com/gpu, the CUDA provider and the CUDA image', () => {
      const inference = deployment(gpu(), 'inference');
      const container = mainContainer(inference);
      expect(container.resources?.limits?.['nvidia.com/gpu']).toBe(1);
      expect(env(container, 'VIGIL_EXECUTION_PROVIDER')?.value).toBe('cuda');
      expect(container.image).toMatch(/inference-cuda:/);
      expect(inference.spec.template.spec.initContainers?.[0]?.image).toBe(container.image);
      expect(inference.spec.template.spec.tolerations?.map((t) => t.key)).toContain(
        'nvidia.com/gpu',
      );
      // Everything else of the base stays: probes, Kafka credentials, limits.
      expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
      expect(env(container, 'KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef?.key).toBe('password');
      expect(quantity(container.resources?.limits?.memory)).toBeGreaterThan(0);
    });

    it('leaves the other apps as they are in base', () => {
      for (const app of APPS.filter((a) => a !== 'inference')) {
        expect(deployment(gpu(), app)).toEqual(deployment(base(), app));
      }
    });
  });
  describe('overlays/edge', () => {
    const edge = (): K8sObject[] => rendered.get('overlays/edge')!.objects;
    interface DaemonSet extends K8sObject {
      spec: {
        selector: { matchLabels: Labels };
        template: {
          metadata: { labels: Labels };
          spec: PodSpec & { nodeSelector?: Labels };
        };
      };
    }
    const daemonSet = (): DaemonSet => find<DaemonSet>(edge(), 'DaemonSet', 'vigil-edge');
    const container = (): Container => daemonSet().spec.template.spec.containers[0]!;
    /** What the edge process's env holds, from the ConfigMaps, Secrets and env it is given. */
    const edgeEnv = (): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const source of container().envFrom ?? []) {
        if (source.configMapRef) {
          Object.assign(out, find<ConfigMap>(edge(), 'ConfigMap', source.configMapRef.name).data);
        }
      }
      for (const variable of container().env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        const value = ref
          ? find<Secret>(edge(), 'Secret', ref.name).stringData[ref.key]
          : variable.value;
        if (value !== undefined) out[variable.name] = value;
      }
      return out;
    };

    it('runs `vigil edge` on every node labelled as an edge node, and only there', () => {
      const pod = daemonSet().spec.template.spec;
      expect(daemonSet().spec.selector.matchLabels).toEqual({
        'app.kubernetes.io/name': 'vigil-edge',
      });
      expect(daemonSet().spec.template.metadata.labels).toMatchObject(
        daemonSet().spec.selector.matchLabels,
      );
      expect(pod.nodeSelector).toEqual({ 'vigil.example.com/edge': 'true' });
      expect(pod.tolerations?.map((t) => t.key)).toEqual(
        expect.arrayContaining(['vigil.example.com/edge', 'node.kubernetes.io/unreachable']),
      );
      expect(container().command).toEqual([
        'node',
        'dist/apps/vigil/main.js',
        'edge',
        '--config',
        '/etc/vigil-edge/$(NODE_NAME).yaml',
      ]);
      expect(container().image).toMatch(/\/vigil\/vigil:/);
      expect(container().readinessProbe?.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container().livenessProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container().ports).toEqual([{ name: 'http', containerPort: 8080 }]);
      expect(container().securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
      });
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
    });

    it("loads each node's file with the real loader, spooling on the node's disk and sending over TLS with SASL", () => {
      const nodes = find<ConfigMap>(
        edge(),
        'ConfigMap',
        daemonSet().spec.template.spec.volumes!.find((v) => v.name === 'nodes')!.configMap!.name,
      );
      expect(Object.keys(nodes.data).length).toBeGreaterThan(0);
      const spoolMount = container().volumeMounts!.find((m) => m.name === 'spool')!;
      const hostPath = daemonSet().spec.template.spec.volumes!.find(
        (v) => v.name === 'spool',
      )!.hostPath;
      expect(hostPath?.path).toBe('/var/lib/vigil-edge');
      const dir = mkdtempSync(join(tmpdir(), 'vigil-edge-config-'));
      try {
        // The cluster CA the pod mounts, stood in for here (the loader reads it at start).
        const ca = join(dir, 'ca.crt');
        writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
        for (const [name, text] of Object.entries(nodes.data)) {
          const file = join(dir, name);
          writeFileSync(file, text);
          const config = loadEdgeConfig(file, {
            ...edgeEnv(),
            KAFKA_SSL_CA_FILE: ca,
            VIGIL_EDGE_ID: basename(name, '.yaml'),
          });
          expect(config.streams.length).toBeGreaterThan(0);
          expect(config.spool.dir.startsWith(`${spoolMount.mountPath}/`)).toBe(true);
          expect(config.service.kafka.ssl).toBe(true);
          expect(config.service.kafka.sasl).toMatchObject({
            mechanism: 'scram-sha-512',
            username: 'vigil-edge',
          });
          expect(config.service.healthPort).toBe(8080);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // The broker's certificate is checked against the CA Strimzi publishes for the cluster.
      expect(edgeEnv().KAFKA_SSL_CA_FILE).toBe('/etc/vigil-kafka-ca/ca.crt');
      const ca = daemonSet().spec.template.spec.volumes!.find((v) => v.name === 'kafka-ca');
      expect(ca?.secret?.secretName).toBe('vigil-cluster-ca-cert');
      const caMount = container().volumeMounts!.find((m) => m.name === 'kafka-ca');
      expect(edgeEnv().KAFKA_SSL_CA_FILE.startsWith(`${caMount?.mountPath}/`)).toBe(true);
      const listener = edgeEnv().KAFKA_BROKERS.split(':')[1];
      const kafka = find<
        K8sObject & { spec: { kafka: { listeners: { port: number; tls: boolean }[] } } }
      >(edge(), 'Kafka', 'vigil');
      expect(kafka.spec.kafka.listeners.find((l) => l.port === Number(listener))?.tls).toBe(true);
    });

    it('lets the edge principal write detections, stream status and evidence, and read nothing', () => {
      const user = find<KafkaUser>(edge(), 'KafkaUser', 'vigil-edge');
      const topics = user.spec.authorization.acls.filter((a) => a.resource.type === 'topic');
      expect(topics.map((a) => a.resource.name).sort()).toEqual(
        [Topics.detections.name, Topics.streamStatus.name, Topics.edgeEvidence.name].sort(),
      );
      for (const acl of topics) {
        expect(acl.resource.patternType).toBe('literal');
        expect(acl.operations.sort()).toEqual(['Describe', 'Write']);
      }
      expect(user.spec.authorization.acls.some((a) => a.resource.type === 'group')).toBe(false);
      expect(user.spec.authentication.password?.valueFrom.secretKeyRef.name).toBe(
        'vigil-edge-sasl-credentials',
      );
    });

    it('leaves the central apps as they are in base', () => {
      for (const app of APPS) expect(deployment(edge(), app)).toEqual(deployment(base(), app));
    });
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  it('passes hadolint', () => {
    tools();
    const { code, out } = run('hadolint', ['--no-color', 'Dockerfile']);
    expect({ code, out }).toEqual({ code: 0, out: '' });
  });

  it('is linted for real: hadolint flags a bad Dockerfile', () => {
    tools();
    const { code, out } = run(
      'hadolint',
      ['--no-color', '-'],
      'FROM node\nRUN cd /app && npm ci\n',
    );
    expect(code).not.toBe(0);
    expect(out).toMatch(/DL3006/); // untagged base image
    expect(out).toMatch(/DL3003/); // cd instead of WORKDIR
  });

  it('builds any app from node:20-bookworm-slim and runs it as a non-root user with ffmpeg', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^ARG APP$/m);
    expect(dockerfile).toMatch(/npm ci\b/);
    expect(dockerfile).toMatch(/npx nest build "\$APP"/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/ONNXRUNTIME_NODE_INSTALL/);
    expect(dockerfile).toMatch(/apt-get install[^\n]*\bffmpeg\b/);
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/dist\/apps\/\$APP\/main\.js/);
    // The default target (the last stage) is the CPU runtime.
    const stages = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(stages[stages.length - 1]).toBe('runtime');
  });

  it('keeps dependencies, build output and secrets out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.cache']));
    for (const needed of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'apps',
      'libs',
      'protos',
    ]) {
      expect(ignored).not.toContain(needed);
    }
  });
});
