/**
 * Test helpers: synthesize the app exactly as `cdk synth` does (cdk.json context, cdk-nag plugin),
 * with bundling skipped, and find things in the template by intent (the `cosmos:function` tag, the
 * function's role), never by hashed logical ids.
 */
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApp, type BuildAppOptions } from '../lib/app';
import type { CosmosStack } from '../lib/cosmos-stack';
import { FUNCTION_TAG } from '../lib/rust-lambda';

const CDK_JSON = path.resolve(__dirname, '..', 'cdk.json');

/** The context `cdk synth` would read from cdk.json (feature flags). */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed = JSON.parse(fs.readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}

export interface Synthesized {
  readonly app: App;
  readonly stack: CosmosStack;
  readonly template: Template;
}

export interface SynthOptions extends Omit<BuildAppOptions, 'appProps'> {
  readonly context?: Record<string, unknown>;
}

/** Builds the app (nag plugin included) and synthesizes it into a temp dir; throws on nag findings. */
export function synth(options: SynthOptions = {}): Synthesized {
  const { app, stack } = buildApp({
    ...options,
    appProps: {
      outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'cosmos-cdk-')),
      // cfn-lint checks the template in `npm run lint`; the built-in wasm validator only adds seconds here.
      builtinCloudFormationValidation: false,
      context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...options.context },
    },
  });
  app.synth();
  return { app, stack, template: Template.fromStack(stack) };
}

type Json = Record<string, unknown>;

export interface Resource {
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Json;
}

function resourcesOf(template: Template, type: string): Resource[] {
  return Object.entries(template.findResources(type)).map(([logicalId, r]) => ({
    logicalId,
    type,
    properties: ((r as Json)['Properties'] ?? {}) as Json,
  }));
}

/** The Lambda function carrying `cosmos:function = name`. */
export function lambdaFunction(template: Template, name: string): Resource {
  const found = resourcesOf(template, 'AWS::Lambda::Function').filter((f) => {
    const tags = (f.properties['Tags'] ?? []) as { Key: string; Value: string }[];
    return tags.some((t) => t.Key === FUNCTION_TAG && t.Value === name);
  });
  if (found.length !== 1) throw new Error(`expected one function tagged ${name}, found ${found.length}`);
  return found[0] as Resource;
}

/** Logical id of the function's role (from its `Role: {Fn::GetAtt: [role, Arn]}`). */
export function roleOf(fn: Resource): string {
  const role = fn.properties['Role'] as { 'Fn::GetAtt': [string, string] };
  return role['Fn::GetAtt'][0];
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string[];
  readonly Resource: unknown[];
}

const asArray = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every statement attached to `roleLogicalId`: inline policies, AWS::IAM::Policy resources, managed policy ARNs. */
export function roleStatements(template: Template, roleLogicalId: string): { statements: Statement[]; managed: unknown[] } {
  const role = resourcesOf(template, 'AWS::IAM::Role').find((r) => r.logicalId === roleLogicalId);
  if (role === undefined) throw new Error(`no role ${roleLogicalId}`);
  const docs: Json[] = [];
  for (const p of (role.properties['Policies'] ?? []) as Json[]) docs.push(p['PolicyDocument'] as Json);
  for (const p of resourcesOf(template, 'AWS::IAM::Policy')) {
    const roles = (p.properties['Roles'] ?? []) as { Ref?: string }[];
    if (roles.some((r) => r.Ref === roleLogicalId)) docs.push(p.properties['PolicyDocument'] as Json);
  }
  const statements = docs.flatMap((d) =>
    asArray(d['Statement'] as Json | Json[]).map((s) => ({
      Effect: s['Effect'] as string,
      Action: asArray(s['Action'] as string | string[]),
      Resource: asArray(s['Resource']),
    })),
  );
  return { statements, managed: (role.properties['ManagedPolicyArns'] ?? []) as unknown[] };
}

/** All allowed actions of a function's role, flattened. */
export function allowedActions(template: Template, functionName: string): string[] {
  const { statements } = roleStatements(template, roleOf(lambdaFunction(template, functionName)));
  return statements.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action);
}

/** Resources of `template` of `type` (with properties), for assertions by intent. */
export function resources(template: Template, type: string): Resource[] {
  return resourcesOf(template, type);
}
