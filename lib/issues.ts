import type { z } from "zod";
import type { ValidationIssue } from "./errors";

/** A zod issue as one readable phrase: `categories.0.models.3.file: must not contain '..'`. */
export const formatIssue = (issue: z.core.$ZodIssue): string =>
  issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`;

/** A zod issue in the FastAPI shape the Models API's clients parse, under the given location prefix. */
export const toValidationIssue = (issue: z.core.$ZodIssue, prefix: (string | number)[] = []): ValidationIssue => ({
  loc: [...prefix, ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part))],
  msg: issue.message,
  type: issue.code,
});
