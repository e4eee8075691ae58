/**
 * Identity (design §6): a Cognito user pool with email as the username and the handle in
 * `preferred_username`, one public app client (SRP, USER_PASSWORD_AUTH, refresh; no secret), and
 * the user-pool triggers wired to the functions routes.json names.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { CognitoTriggerName } from './contract';
import { acknowledge } from './nag';

const OPERATIONS: Record<CognitoTriggerName, cognito.UserPoolOperation> = {
  PreSignUp: cognito.UserPoolOperation.PRE_SIGN_UP,
  PostConfirmation: cognito.UserPoolOperation.POST_CONFIRMATION,
  PreAuthentication: cognito.UserPoolOperation.PRE_AUTHENTICATION,
  PostAuthentication: cognito.UserPoolOperation.POST_AUTHENTICATION,
  // Version 1 event: enough to add the handle claim to the id token, and available on every plan.
  PreTokenGeneration: cognito.UserPoolOperation.PRE_TOKEN_GENERATION,
  CustomMessage: cognito.UserPoolOperation.CUSTOM_MESSAGE,
  UserMigration: cognito.UserPoolOperation.USER_MIGRATION,
  DefineAuthChallenge: cognito.UserPoolOperation.DEFINE_AUTH_CHALLENGE,
  CreateAuthChallenge: cognito.UserPoolOperation.CREATE_AUTH_CHALLENGE,
  VerifyAuthChallengeResponse: cognito.UserPoolOperation.VERIFY_AUTH_CHALLENGE_RESPONSE,
};

export interface IdentityProps {
  readonly stage: string;
  /** Plus feature plan with threat protection enforced (billed per MAU). */
  readonly threatProtection: boolean;
  readonly retain: boolean;
}

export class Identity extends Construct {
  public readonly userPool: cognito.UserPool;
  public readonly client: cognito.UserPoolClient;
  /** `https://cognito-idp.<region>.amazonaws.com`: the endpoint clients sign up and sign in against. */
  public readonly cognitoEndpoint: string;
  /** `https://cognito-idp.<region>.amazonaws.com/<poolId>`: the `iss` of the pool's tokens. */
  public readonly issuer: string;
  /** `<issuer>/.well-known/jwks.json`. */
  public readonly jwksUrl: string;

  constructor(scope: Construct, id: string, props: IdentityProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `cosmos-${props.stage}`,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      selfSignUpEnabled: true,
      autoVerify: { email: true },
      keepOriginal: { email: true },
      standardAttributes: {
        email: { required: true, mutable: true },
        // Optional in the schema (required attributes can never be changed); PreSignUp rejects a
        // sign-up without a valid handle.
        preferredUsername: { required: false, mutable: true },
      },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: props.threatProtection ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      standardThreatProtectionMode: props.threatProtection ? cognito.StandardThreatProtectionMode.FULL_FUNCTION : undefined,
      deletionProtection: props.retain,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    acknowledge(
      this.userPool,
      'AwsSolutions-COG2',
      'MFA is optional (TOTP) as in consumer chat products; requiring it at sign-up would block the self sign-up flow. Users can enrol a TOTP device.',
    );
    if (!props.threatProtection) {
      acknowledge(
        this.userPool,
        'AwsSolutions-COG8',
        'Non-production stage: the Plus plan (threat protection) is billed per monthly active user; it is on for the prod stage or with -c threatProtection=true.',
      );
    }

    this.client = this.userPool.addClient('WebClient', {
      userPoolClientName: 'web',
      generateSecret: false,
      authFlows: { userSrp: true, userPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes: new cognito.ClientAttributes().withStandardAttributes({
        email: true,
        emailVerified: true,
        preferredUsername: true,
      }),
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, preferredUsername: true }),
    });

    this.cognitoEndpoint = `https://cognito-idp.${stack.region}.${stack.urlSuffix}`;
    this.issuer = `${this.cognitoEndpoint}/${this.userPool.userPoolId}`;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;
  }

  /** Wires one user-pool trigger (the function must not depend on the pool: see contract.ts). */
  public addTrigger(trigger: CognitoTriggerName, fn: lambda.IFunction): void {
    this.userPool.addTrigger(OPERATIONS[trigger], fn);
  }
}
