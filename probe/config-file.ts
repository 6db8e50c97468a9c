/**
 * Config files (YAML or JSON) checked against a schema. Every problem ends in
 * one line naming the file and the key: unreadable, unparsable, a typo, a
 * missing or a wrong value.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import * as v from 'valibot'
import { describeIssue } from './validation.ts'

export class ConfigError extends Error {
  readonly code = 'CONFIG'
}

/** Checks a value against the schema; `source` (the file) leads the message. */
export function parseWith<Schema extends v.GenericSchema>(schema: Schema, value: unknown, source: string): v.InferOutput<Schema> {
  const result = v.safeParse(schema, value)
  if (!result.success) throw new ConfigError(describeIssue(result.issues, source))
  return result.output
}

export function readConfigFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  const json = file.endsWith('.json')
  try {
    return json ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new ConfigError(`${file}: not valid ${json ? 'JSON' : 'YAML'}: ${(error as Error).message}`)
  }
}
