/**
 * Reading the packaged CloudFormation template, and serverless.yml as osls resolves it with nothing set, for
 * package.test.ts: the resources of a type, the functions, their environment, the IAM statements, and the URL
 * path of an API Gateway method.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { PROJECT_DIR } from "./stack";

export interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
}

export interface Template {
  Resources: Record<string, Resource>;
  Parameters: Record<string, { Type: string; Default?: string }>;
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** serverless.yml as osls resolves it with nothing set (`sls print`: the same resolution, without a build). */
export interface Printed {
  functions: Record<string, { environment?: Record<string, string>; vpc?: unknown }>;
  provider: { logRetentionInDays: number; iam: { role: { statements: Statement[] } } };
  resources: { Resources: Record<string, Resource> };
}
export async function printed(): Promise<Printed> {
  const { stdout } = await promisify(execFile)(path.join(PROJECT_DIR, "node_modules", ".bin", "sls"), ["print", "--format", "json"], {
    cwd: PROJECT_DIR,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Printed;
}

export const ofType = (template: Template, type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
export const functionsOf = (template: Template) => ofType(template, "AWS::Lambda::Function");
/** Every function but the admin page's: the ones that serve the API. */
export const apiFunctionsOf = (template: Template) => functionsOf(template).filter((f) => f !== template.Resources.AdminPageLambdaFunction);
export const envOf = (fn: Resource) => (fn.Properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables;
export const statementsOf = (template: Template): Statement[] =>
  (template.Resources.IamRoleLambdaExecution!.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
    (policy) => policy.PolicyDocument.Statement,
  );
export const actionsOf = (statement: Statement) => [statement.Action].flat();
/** The URL path of an API Gateway resource, from its chain of parents. */
export const pathOf = (template: Template, ref: { Ref: string } | { "Fn::GetAtt": unknown }): string => {
  if (!("Ref" in ref)) return "";
  const resource = template.Resources[ref.Ref]!;
  return `${pathOf(template, resource.Properties.ParentId as { Ref: string })}/${resource.Properties.PathPart as string}`;
};
export const methodAt = (template: Template, method: string, urlPath: string) =>
  ofType(template, "AWS::ApiGateway::Method").find(
    (m) => m.Properties.HttpMethod === method && pathOf(template, m.Properties.ResourceId as { Ref: string }) === urlPath,
  )!;
export const arnOf = (name: string) => ({
  "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":ssm:", { Ref: "AWS::Region" }, ":", { Ref: "AWS::AccountId" }, `:parameter/${name}`]],
});
