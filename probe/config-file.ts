/** Reads a YAML or JSON file into a value for a schema to check; unreadable or unparsable files say so in one line. */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'

export class ConfigFileError extends Error {
  readonly code = 'CONFIG'
}

export function readConfigFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigFileError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  const json = file.endsWith('.json')
  try {
    return json ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new ConfigFileError(`${file}: not valid ${json ? 'JSON' : 'YAML'}: ${(error as Error).message}`)
  }
}
