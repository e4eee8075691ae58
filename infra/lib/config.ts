/**
 * Stage settings, read from CDK context (`-c key=value` or cdk.json) with per-stage defaults.
 *
 * | context key           | default                                   |
 * |-----------------------|-------------------------------------------|
 * | `stage`               | `dev`                                     |
 * | `webOrigin`           | dev: `http://localhost:5173,http://127.0.0.1:5173`; other stages: required |
 * | `retainData`          | `true` on `prod`: table, bucket, pool and secret survive `cdk destroy` |
 * | `threatProtection`    | `true` on `prod`: Cognito Plus plan with threat protection enforced |
 * | `webSocketAccessLogs` | `false` (needs the account-wide API Gateway CloudWatch role) |
 */
import type { Node } from 'constructs';

export interface StageConfig {
  readonly stage: string;
  readonly webOrigins: readonly string[];
  readonly retainData: boolean;
  readonly threatProtection: boolean;
  readonly webSocketAccessLogs: boolean;
}

const STAGE = /^[a-z][a-z0-9-]{0,15}$/;
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/;
const DEV_ORIGINS = ['http://localhost:5173', 'http://127.0.0.1:5173'];

function bool(node: Node, key: string, fallback: boolean): boolean {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context ${key} must be true or false (got ${JSON.stringify(value)})`);
}

/** Reads the stage settings from `node`'s context. */
export function stageConfig(node: Node): StageConfig {
  const stage: unknown = node.tryGetContext('stage') ?? 'dev';
  if (typeof stage !== 'string' || !STAGE.test(stage)) {
    throw new Error(`context stage must match ${STAGE.source} (got ${JSON.stringify(stage)})`);
  }
  const origin: unknown = node.tryGetContext('webOrigin');
  let webOrigins: string[];
  if (origin === undefined) {
    if (stage !== 'dev') throw new Error(`stage ${stage} needs -c webOrigin=https://app.example.com (comma separated)`);
    webOrigins = DEV_ORIGINS;
  } else if (typeof origin === 'string') {
    webOrigins = origin.split(',').map((o) => o.trim()).filter((o) => o.length > 0);
  } else {
    throw new Error('context webOrigin must be a string of comma-separated origins');
  }
  for (const o of webOrigins) {
    if (!ORIGIN.test(o)) throw new Error(`webOrigin ${JSON.stringify(o)} is not an origin (scheme://host[:port])`);
  }
  if (webOrigins.length === 0) throw new Error('webOrigin lists no origin');
  const prod = stage === 'prod';
  return {
    stage,
    webOrigins,
    retainData: bool(node, 'retainData', prod),
    threatProtection: bool(node, 'threatProtection', prod),
    webSocketAccessLogs: bool(node, 'webSocketAccessLogs', false),
  };
}
