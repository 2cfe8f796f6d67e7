/**
 * CloudFormation's intrinsic functions, as far as a function's settings use them: Ref (to parameters and
 * pseudo parameters), Fn::Join, Fn::Sub, Fn::Select, Fn::Split and Fn::If over the template's Conditions.
 * A test resolves with the parameter values it chooses what a deploy would resolve with the operator's.
 */
import type { CfnTemplate } from "./package";

/** `{"Ref": "AWS::NoValue"}`: the property is left out. */
export const NO_VALUE = Symbol("AWS::NoValue");

const PSEUDO: Record<string, string> = {
  "AWS::Region": "us-east-1",
  "AWS::AccountId": "123456789012",
  "AWS::Partition": "aws",
  "AWS::URLSuffix": "amazonaws.com",
  "AWS::StackName": "comfyui-models-admin-test",
  "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/comfyui-models-admin-test/1",
};

export class Resolver {
  readonly #template: CfnTemplate;
  readonly #parameters: Record<string, string>;

  /** `parameters`: the values a deploy would be given; the rest take the template's defaults. */
  constructor(template: CfnTemplate, parameters: Record<string, string>) {
    this.#template = template;
    this.#parameters = parameters;
  }

  ref(name: string): string | typeof NO_VALUE {
    if (name === "AWS::NoValue") return NO_VALUE;
    const pseudo = PSEUDO[name];
    if (pseudo !== undefined) return pseudo;
    const given = this.#parameters[name];
    if (given !== undefined) return given;
    const declared = this.#template.Parameters?.[name];
    if (!declared) throw new Error(`Ref ${name}: neither a parameter nor a pseudo parameter (a resource's Ref is not supported here)`);
    // CloudFormation would read such a parameter's value from SSM at deploy time: the test must say what it holds
    if (declared.Type.startsWith("AWS::SSM::Parameter::Value")) throw new Error(`Ref ${name}: give the test a value for this SSM-backed parameter`);
    if (declared.Default === undefined) throw new Error(`Ref ${name}: the parameter has no default; give the test a value`);
    return declared.Default;
  }

  condition(name: string): boolean {
    const condition = this.#template.Conditions?.[name];
    if (condition === undefined) throw new Error(`Condition ${name} is not in the template`);
    return this.truth(condition);
  }

  truth(value: unknown): boolean {
    const [fn, args] = Object.entries(value as Record<string, unknown>)[0] ?? [];
    const list = args as unknown[];
    switch (fn) {
      case "Fn::Equals":
        return this.resolve(list[0]) === this.resolve(list[1]);
      case "Fn::Not":
        return !this.truth(list[0]);
      case "Fn::And":
        return list.every((item) => this.truth(item));
      case "Fn::Or":
        return list.some((item) => this.truth(item));
      case "Condition":
        return this.condition(args as string);
      default:
        throw new Error(`not a condition: ${JSON.stringify(value)}`);
    }
  }

  resolve(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((item) => this.resolve(item)).filter((item) => item !== NO_VALUE);
    const keys = Object.keys(value);
    const record = value as Record<string, unknown>;
    if (keys.length !== 1 || !(keys[0] === "Ref" || keys[0]!.startsWith("Fn::"))) {
      return Object.fromEntries(
        Object.entries(record)
          .map(([key, item]) => [key, this.resolve(item)] as const)
          .filter(([, item]) => item !== NO_VALUE),
      );
    }
    const [fn] = keys as [string];
    const args = record[fn];
    switch (fn) {
      case "Ref":
        return this.ref(args as string);
      case "Fn::Join": {
        const [separator, items] = args as [string, unknown];
        return (this.resolve(items) as unknown[]).join(separator);
      }
      case "Fn::Split": {
        const [separator, text] = args as [string, unknown];
        return String(this.resolve(text)).split(separator);
      }
      case "Fn::Select": {
        const [index, items] = args as [unknown, unknown];
        return (this.resolve(items) as unknown[])[Number(this.resolve(index))];
      }
      case "Fn::If": {
        const [name, yes, no] = args as [string, unknown, unknown];
        return this.resolve(this.condition(name) ? yes : no);
      }
      case "Fn::Sub": {
        const [text, vars] = (typeof args === "string" ? [args, {}] : args) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => String(name in vars ? this.resolve(vars[name]) : this.ref(name)));
      }
      default:
        throw new Error(`${fn} is not supported by the test's resolver: ${JSON.stringify(value)}`);
    }
  }
}
