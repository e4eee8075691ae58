/**
 * One Rust Lambda, built by cargo-lambda from the workspace: the wrapper fixes in one place what
 * every function shares (manifest, arm64, provided.al2023, JSON logging, memory/timeout defaults),
 * and gives each function its own role and log group, so grants stay per function.
 */
import { Duration, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import * as path from 'node:path';

/** The workspace root manifest: every function crate is a member, built with the shared lockfile. */
export const WORKSPACE_MANIFEST = path.resolve(__dirname, '..', '..', 'Cargo.toml');

/** Tag carrying the crate name on the function, its role and its log group (tests and ops find them by it). */
export const FUNCTION_TAG = 'cosmos:function';

export interface RustLambdaProps {
  /** Crate name = binary name = `functions/<name>/` = `events/<name>/`. */
  readonly name: string;
  readonly stage: string;
  readonly environment?: Readonly<Record<string, string>>;
  /** @default 256 MB: Rust needs little memory, but CPU scales with it. */
  readonly memorySize?: number;
  /** @default 10 seconds */
  readonly timeout?: Duration;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** @default DESTROY (the log group goes with the function) */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Override the manifest (tests). @default the workspace root Cargo.toml */
  readonly manifestPath?: string;
}

export class RustLambda extends Construct {
  public readonly function: RustFunction;
  /** The function's own role: it starts with write rights on its own log group only; grants add the rest. */
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly name: string;

  constructor(scope: Construct, id: string, props: RustLambdaProps) {
    super(scope, id);
    this.name = props.name;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });

    // No AWS managed policy: log rights are scoped to this function's own log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `cosmos ${props.stage} ${props.name}`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new RustFunction(this, 'Function', {
      manifestPath: props.manifestPath ?? WORKSPACE_MANIFEST,
      binaryName: props.name,
      runtime: 'provided.al2023',
      architecture: lambda.Architecture.ARM_64,
      bundling: { architecture: lambda.Architecture.ARM_64 },
      description: `cosmos ${props.stage} ${props.name}`,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      environment: { ...props.environment },
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
    });

    Tags.of(this).add(FUNCTION_TAG, props.name);
  }
}
