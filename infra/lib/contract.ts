/**
 * The contract files shared with the Rust side (`shared/contract/*.json`), loaded and checked.
 *
 * `routes.json` drives every function, route, trigger, stream consumer and grant of the stack, so
 * adding a route touches only that file. Anything the stack cannot honour (an unknown grant, an
 * env var nobody provides, a route to an undeclared function) fails synth here with a message
 * naming the offending entry, instead of deploying something half-wired.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the contract files live: `<repo>/shared/contract`, next to `infra/`. */
export const CONTRACT_DIR = path.resolve(__dirname, '..', '..', 'shared', 'contract');

/** Environment variables the stack knows how to fill (see `CosmosStack`). */
export const KNOWN_ENV_VARS = [
  'TABLE_NAME',
  'CONNECTIONS_ENDPOINT',
  'USER_POOL_ISSUER',
  'USER_POOL_JWKS_URL',
  'USER_POOL_CLIENT_IDS',
  'BUCKET_NAME',
] as const;
export type EnvVarName = (typeof KNOWN_ENV_VARS)[number];

/** Env vars that name the user pool: a Cognito trigger function cannot take them (circular dependency). */
export const USER_POOL_ENV_VARS: readonly EnvVarName[] = ['USER_POOL_ISSUER', 'USER_POOL_JWKS_URL', 'USER_POOL_CLIENT_IDS'];

export type TableAccess = 'read' | 'readWrite';
export type BucketAccess = 'read' | 'readWrite';

/** What one function may touch and which settings it receives. */
export interface FunctionSpec {
  /** Table grant: `read` => grantReadData, `readWrite` => grantReadWriteData, absent => none. */
  readonly table?: TableAccess;
  /** `execute-api:ManageConnections` on the WebSocket stage's `@connections` only. */
  readonly connections: boolean;
  /** Consumes the table's stream (must match `tableStreamConsumers`). */
  readonly stream: boolean;
  /** Media bucket grant (for upload signing and attachment checks). */
  readonly bucket?: BucketAccess;
  readonly environment: readonly EnvVarName[];
}

export interface RouteSpec {
  readonly routeKey: string;
  readonly function: string;
}

/** An HTTP route key split into its parts (`GET /servers/{serverId}`). */
export interface HttpRouteSpec extends RouteSpec {
  readonly method: HttpMethodName;
  readonly path: string;
}

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY'] as const;
export type HttpMethodName = (typeof HTTP_METHODS)[number];

/** Cognito trigger names as Cognito's `LambdaConfig` spells them, PascalCase. */
export const COGNITO_TRIGGERS = [
  'PreSignUp',
  'PostConfirmation',
  'PreAuthentication',
  'PostAuthentication',
  'PreTokenGeneration',
  'CustomMessage',
  'UserMigration',
  'DefineAuthChallenge',
  'CreateAuthChallenge',
  'VerifyAuthChallengeResponse',
] as const;
export type CognitoTriggerName = (typeof COGNITO_TRIGGERS)[number];

export interface RoutesContract {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly httpRoutes: readonly HttpRouteSpec[];
  readonly webSocketRoutes: readonly RouteSpec[];
  readonly tableStreamConsumers: readonly string[];
  readonly cognitoTriggers: Readonly<Partial<Record<CognitoTriggerName, string>>>;
}

export interface IndexSpec {
  readonly indexName: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
}

export type StreamView = 'NEW_AND_OLD_IMAGES' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'KEYS_ONLY';

export interface TableContract {
  readonly partitionKey: string;
  readonly sortKey?: string;
  readonly indexes: readonly IndexSpec[];
  readonly timeToLiveAttribute?: string;
  readonly streamView: StreamView;
}

/** Thrown for a contract file the stack cannot honour; the message names the entry. */
export class ContractError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ContractError';
  }
}

const FUNCTION_NAME = /^[a-z][a-z0-9-]*[a-z0-9]$/;
const WS_ROUTE_KEY = /^(\$connect|\$disconnect|\$default|[A-Za-z0-9_-]+)$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
}

function str(file: string, where: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ContractError(file, `${where} must be a non-empty string`);
  }
  return value;
}

function oneOf<T extends string>(file: string, where: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ContractError(file, `${where} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

function optionalBool(file: string, where: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ContractError(file, `${where} must be a boolean`);
  return value;
}

function parseFunction(file: string, name: string, raw: unknown): FunctionSpec {
  const where = `functions.${name}`;
  if (!FUNCTION_NAME.test(name)) {
    throw new ContractError(file, `${where}: a function name is its crate name (lowercase, digits, dashes)`);
  }
  if (!isRecord(raw)) throw new ContractError(file, `${where} must be an object`);
  const known = new Set(['table', 'connections', 'stream', 'bucket', 'environment']);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      throw new ContractError(file, `${where}.${key} is not a grant the stack knows (known: ${[...known].join(', ')})`);
    }
  }
  const env = raw['environment'] ?? [];
  if (!Array.isArray(env)) throw new ContractError(file, `${where}.environment must be an array`);
  const environment = env.map((v, i) => oneOf(file, `${where}.environment[${i}]`, v, KNOWN_ENV_VARS));
  if (new Set(environment).size !== environment.length) {
    throw new ContractError(file, `${where}.environment lists a variable twice`);
  }
  const spec: FunctionSpec = {
    table: raw['table'] === undefined ? undefined : oneOf(file, `${where}.table`, raw['table'], ['read', 'readWrite'] as const),
    connections: optionalBool(file, `${where}.connections`, raw['connections']),
    stream: optionalBool(file, `${where}.stream`, raw['stream']),
    bucket: raw['bucket'] === undefined ? undefined : oneOf(file, `${where}.bucket`, raw['bucket'], ['read', 'readWrite'] as const),
    environment,
  };
  if (environment.includes('TABLE_NAME') && spec.table === undefined) {
    throw new ContractError(file, `${where} takes TABLE_NAME but has no table grant`);
  }
  if (environment.includes('BUCKET_NAME') && spec.bucket === undefined) {
    throw new ContractError(file, `${where} takes BUCKET_NAME but has no bucket grant`);
  }
  if (environment.includes('CONNECTIONS_ENDPOINT') && !spec.connections) {
    throw new ContractError(file, `${where} takes CONNECTIONS_ENDPOINT but has no connections grant`);
  }
  return spec;
}

function parseHttpRoute(file: string, index: number, raw: unknown): HttpRouteSpec {
  const where = `httpRoutes[${index}]`;
  if (!isRecord(raw)) throw new ContractError(file, `${where} must be an object`);
  const routeKey = str(file, `${where}.routeKey`, raw['routeKey']);
  const match = /^([A-Z]+) (\/[A-Za-z0-9_\-./{}+]*)$/.exec(routeKey);
  if (match === null) {
    throw new ContractError(file, `${where}.routeKey ${JSON.stringify(routeKey)} must look like "GET /path/{param}"`);
  }
  const method = oneOf(file, `${where}.routeKey method`, match[1], HTTP_METHODS);
  return { routeKey, method, path: match[2] ?? '/', function: str(file, `${where}.function`, raw['function']) };
}

function parseWsRoute(file: string, index: number, raw: unknown): RouteSpec {
  const where = `webSocketRoutes[${index}]`;
  if (!isRecord(raw)) throw new ContractError(file, `${where} must be an object`);
  const routeKey = str(file, `${where}.routeKey`, raw['routeKey']);
  if (!WS_ROUTE_KEY.test(routeKey)) {
    throw new ContractError(file, `${where}.routeKey ${JSON.stringify(routeKey)} is not a WebSocket route key`);
  }
  return { routeKey, function: str(file, `${where}.function`, raw['function']) };
}

/** Parses and cross-checks a routes contract (already read as JSON). */
export function parseRoutes(raw: unknown, file = 'routes.json'): RoutesContract {
  if (!isRecord(raw)) throw new ContractError(file, 'must be a JSON object');
  if (!isRecord(raw['functions'])) throw new ContractError(file, 'functions must be an object');
  const functions: Record<string, FunctionSpec> = {};
  for (const [name, spec] of Object.entries(raw['functions'])) {
    functions[name] = parseFunction(file, name, spec);
  }

  const list = (key: string): unknown[] => {
    const value = raw[key] ?? [];
    if (!Array.isArray(value)) throw new ContractError(file, `${key} must be an array`);
    return value;
  };
  const httpRoutes = list('httpRoutes').map((r, i) => parseHttpRoute(file, i, r));
  const webSocketRoutes = list('webSocketRoutes').map((r, i) => parseWsRoute(file, i, r));
  const tableStreamConsumers = list('tableStreamConsumers').map((v, i) => str(file, `tableStreamConsumers[${i}]`, v));

  const triggersRaw = raw['cognitoTriggers'] ?? {};
  if (!isRecord(triggersRaw)) throw new ContractError(file, 'cognitoTriggers must be an object');
  const cognitoTriggers: Partial<Record<CognitoTriggerName, string>> = {};
  for (const [trigger, fn] of Object.entries(triggersRaw)) {
    cognitoTriggers[oneOf(file, `cognitoTriggers key`, trigger, COGNITO_TRIGGERS)] = str(file, `cognitoTriggers.${trigger}`, fn);
  }

  const declared = (where: string, fn: string): void => {
    if (!(fn in functions)) throw new ContractError(file, `${where} names function ${JSON.stringify(fn)}, which functions does not declare`);
  };
  const unique = (where: string, keys: readonly string[]): void => {
    const seen = new Set<string>();
    for (const key of keys) {
      if (seen.has(key)) throw new ContractError(file, `${where}: ${JSON.stringify(key)} appears twice`);
      seen.add(key);
    }
  };
  httpRoutes.forEach((r, i) => declared(`httpRoutes[${i}] (${r.routeKey})`, r.function));
  webSocketRoutes.forEach((r, i) => declared(`webSocketRoutes[${i}] (${r.routeKey})`, r.function));
  tableStreamConsumers.forEach((fn, i) => declared(`tableStreamConsumers[${i}]`, fn));
  Object.entries(cognitoTriggers).forEach(([t, fn]) => declared(`cognitoTriggers.${t}`, fn));
  unique('httpRoutes', httpRoutes.map((r) => r.routeKey));
  unique('webSocketRoutes', webSocketRoutes.map((r) => r.routeKey));
  unique('tableStreamConsumers', tableStreamConsumers);

  for (const [name, spec] of Object.entries(functions)) {
    const consumes = tableStreamConsumers.includes(name);
    if (spec.stream !== consumes) {
      throw new ContractError(file, `functions.${name}.stream must be true exactly when ${name} is in tableStreamConsumers`);
    }
    const isTrigger = Object.values(cognitoTriggers).includes(name);
    const poolVars = spec.environment.filter((v) => USER_POOL_ENV_VARS.includes(v));
    if (isTrigger && poolVars.length > 0) {
      throw new ContractError(
        file,
        `functions.${name} is a Cognito trigger and cannot take ${poolVars.join(', ')}: the pool depends on the function, ` +
          'so the function cannot depend on the pool (read the pool id from the trigger event instead)',
      );
    }
    const used =
      isTrigger ||
      consumes ||
      httpRoutes.some((r) => r.function === name) ||
      webSocketRoutes.some((r) => r.function === name);
    if (!used) throw new ContractError(file, `functions.${name} is served by no route, trigger or stream`);
  }
  if (webSocketRoutes.length > 0 && !webSocketRoutes.some((r) => r.routeKey === '$connect')) {
    throw new ContractError(file, 'webSocketRoutes needs a $connect route');
  }

  return { functions, httpRoutes, webSocketRoutes, tableStreamConsumers, cognitoTriggers };
}

/** Parses a table contract (already read as JSON). */
export function parseTable(raw: unknown, file = 'table.json'): TableContract {
  if (!isRecord(raw)) throw new ContractError(file, 'must be a JSON object');
  const indexesRaw = raw['indexes'] ?? [];
  if (!Array.isArray(indexesRaw)) throw new ContractError(file, 'indexes must be an array');
  const indexes = indexesRaw.map((ix, i): IndexSpec => {
    if (!isRecord(ix)) throw new ContractError(file, `indexes[${i}] must be an object`);
    return {
      indexName: str(file, `indexes[${i}].indexName`, ix['indexName']),
      partitionKey: str(file, `indexes[${i}].partitionKey`, ix['partitionKey']),
      sortKey: ix['sortKey'] === undefined ? undefined : str(file, `indexes[${i}].sortKey`, ix['sortKey']),
    };
  });
  return {
    partitionKey: str(file, 'partitionKey', raw['partitionKey']),
    sortKey: raw['sortKey'] === undefined ? undefined : str(file, 'sortKey', raw['sortKey']),
    indexes,
    timeToLiveAttribute:
      raw['timeToLiveAttribute'] === undefined ? undefined : str(file, 'timeToLiveAttribute', raw['timeToLiveAttribute']),
    streamView: oneOf(file, 'streamView', raw['streamView'], ['NEW_AND_OLD_IMAGES', 'NEW_IMAGE', 'OLD_IMAGE', 'KEYS_ONLY'] as const),
  };
}

/** Loads `routes.json` from the contract directory. */
export function loadRoutes(dir = CONTRACT_DIR): RoutesContract {
  const file = path.join(dir, 'routes.json');
  return parseRoutes(readJson(file), file);
}

/** Loads `table.json` from the contract directory. */
export function loadTable(dir = CONTRACT_DIR): TableContract {
  const file = path.join(dir, 'table.json');
  return parseTable(readJson(file), file);
}
