import { inspect } from "node:util";

/**
 * A credential that cannot be printed by accident: String(), JSON.stringify and console.log all show
 * "[redacted]". Only `reveal()` gives the value, so every place that sends it somewhere is greppable.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return "[redacted]";
  }

  toJSON(): string {
    return "[redacted]";
  }

  [inspect.custom](): string {
    return "[redacted]";
  }
}
